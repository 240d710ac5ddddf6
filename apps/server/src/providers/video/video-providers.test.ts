import { createRequire } from 'node:module';
import { jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgoraProvider } from './agora.provider.ts';
import { LocalWebRtcProvider, parseIceServers } from './local-webrtc.provider.ts';
import { TwilioProvider } from './twilio.provider.ts';
import { WebhookRejected } from './video.provider.ts';
import {
  AGORA_TEST,
  agoraNotice,
  TWILIO_TEST,
  twilioCallback,
  VideoVendorLoopback,
} from './video-loopback.test-support.ts';

// Agora's own parser and verifier (the same package's AccessToken2), to read back what we issued.
const { AccessToken2 } = createRequire(import.meta.url)('agora-token/src/AccessToken2.js') as {
  AccessToken2: new () => {
    from_string(token: string): boolean;
    verifySignature(certificate: string): boolean;
    appId: string;
    expire: number;
    services: Array<{ __channel_name: Buffer; __uid: Buffer; __privileges: Record<string, number> }>;
  };
};

const ROOM = '6f1c1d3e-8a55-4b7a-9f00-0a4b2d7c9e11';
const USER = '0b7f3c1a-2d4e-4f6a-8b9c-1d2e3f4a5b6c';
const raw = (request: { body: string; headers: Record<string, string> }, url = 'http://x/') => ({
  headers: request.headers,
  rawBody: Buffer.from(request.body),
  url,
});

describe('video providers', () => {
  const agoraApi = new VideoVendorLoopback(AGORA_TEST.customerId, AGORA_TEST.customerSecret);
  const twilioApi = new VideoVendorLoopback(TWILIO_TEST.apiKeySid, TWILIO_TEST.apiKeySecret);
  let agora: AgoraProvider;
  let agoraUrl: string;
  let twilio: TwilioProvider;

  beforeAll(async () => {
    agoraUrl = await agoraApi.start();
    agora = new AgoraProvider({ ...AGORA_TEST, apiUrl: agoraUrl });
    twilio = new TwilioProvider({ ...TWILIO_TEST, apiUrl: await twilioApi.start() });
  });
  afterAll(async () => {
    await agoraApi.stop();
    await twilioApi.stop();
  });

  it('issues Agora RTC tokens for the call channel and side uid, privileges no longer than affordable', () => {
    const now = new Date();
    const credentials = agora.credentials({
      room: ROOM,
      userId: USER,
      side: 'callee',
      validForSeconds: 90,
      now,
    });
    expect(credentials).toMatchObject({
      provider: 'agora',
      room: ROOM,
      identity: '2',
      appId: AGORA_TEST.appId,
    });
    expect(credentials.expiresAt.getTime()).toBe(now.getTime() + 90_000);
    const token = new AccessToken2();
    expect(token.from_string(credentials.token ?? '')).toBe(true);
    expect(token.verifySignature(AGORA_TEST.appCertificate)).toBe(true);
    expect(token.verifySignature('0'.repeat(32))).toBe(false);
    expect(token.expire).toBe(90);
    const [rtc] = token.services;
    expect(String(rtc?.__channel_name)).toBe(ROOM);
    expect(String(rtc?.__uid)).toBe('2');
    // Join and the three publish privileges, each for 90 s.
    expect(Object.values(rtc?.__privileges ?? {})).toEqual([90, 90, 90, 90]);
    // Capped at an hour whatever the wallet covers.
    const long = agora.credentials({
      room: ROOM,
      userId: USER,
      side: 'caller',
      validForSeconds: 10 ** 6,
      now,
    });
    expect(long.expiresAt.getTime() - now.getTime()).toBe(3_600_000);
  });

  it('verifies Agora-Signature-V2, reads ts as seconds and maps uids and leave reasons', () => {
    const ts = 1_790_000_000;
    const join = agoraNotice(AGORA_TEST.webhookSecret, {
      noticeId: 'n1',
      eventType: 107,
      channelName: ROOM,
      uid: 1,
      ts,
    });
    expect(agora.verifyWebhook(raw(join))).toEqual([
      {
        provider: 'agora',
        eventId: 'n1',
        room: ROOM,
        type: 'joined',
        side: 'caller',
        reason: null,
        occurredAt: new Date(ts * 1000),
      },
    ]);
    const leave = agoraNotice(AGORA_TEST.webhookSecret, {
      noticeId: 'n2',
      eventType: 108,
      channelName: ROOM,
      uid: 2,
      reason: 2,
      ts,
    });
    expect(agora.verifyWebhook(raw(leave))[0]).toMatchObject({
      type: 'left',
      side: 'callee',
      reason: 'timeout',
    });
    const destroyed = agoraNotice(AGORA_TEST.webhookSecret, {
      noticeId: 'n3',
      eventType: 102,
      channelName: ROOM,
      ts,
    });
    expect(agora.verifyWebhook(raw(destroyed))[0]).toMatchObject({ type: 'room_ended', side: null });
    // A uid that is neither side (a recorder), or another event type: verified, then ignored.
    const other = agoraNotice(AGORA_TEST.webhookSecret, {
      noticeId: 'n4',
      eventType: 107,
      channelName: ROOM,
      uid: 9,
      ts,
    });
    expect(agora.verifyWebhook(raw(other))).toEqual([]);

    const forged = agoraNotice('another-secret', {
      noticeId: 'n5',
      eventType: 107,
      channelName: ROOM,
      uid: 1,
      ts,
    });
    expect(() => agora.verifyWebhook(raw(forged))).toThrow(WebhookRejected);
    const tampered = { ...join, body: join.body.replace('"uid":1', '"uid":2') };
    expect(() => agora.verifyWebhook(raw(tampered))).toThrow(WebhookRejected);
    expect(() => agora.verifyWebhook(raw({ body: join.body, headers: {} }))).toThrow(WebhookRejected);
    const unconfigured = new AgoraProvider({
      ...AGORA_TEST,
      webhookSecret: undefined,
      apiUrl: 'http://127.0.0.1:9',
    });
    expect(() => unconfigured.verifyWebhook(raw(join))).toThrow(WebhookRejected);
  });

  it("ends an Agora channel with a kicking rule and probes the channel list with Agora's Basic auth", async () => {
    await agora.endRoom(ROOM);
    const kick = agoraApi.requests.at(-1);
    expect(kick).toMatchObject({ method: 'POST', path: '/dev/v1/kicking-rule' });
    expect(JSON.parse(kick?.body ?? '{}')).toEqual({
      appid: AGORA_TEST.appId,
      cname: ROOM,
      time: 1,
      privileges: ['join_channel'],
    });
    expect(await agora.health()).toEqual({ healthy: true, detail: null });
    expect(agoraApi.requests.at(-1)?.path).toBe(`/dev/v1/channel/${AGORA_TEST.appId}?page_no=0&page_size=1`);
    agoraApi.failWith = 503;
    expect(await agora.health()).toEqual({ healthy: false, detail: 'channel list answered 503' });
    await expect(agora.endRoom(ROOM)).rejects.toThrow('503');
    agoraApi.failWith = null;
    const wrongSecret = new AgoraProvider({
      ...AGORA_TEST,
      customerSecret: 'wrong',
      apiUrl: agoraUrl,
    });
    expect((await wrongSecret.health()).healthy).toBe(false);
  });

  it('issues Twilio access tokens with a VideoGrant for the room, signed with the API key secret', async () => {
    const now = new Date();
    const credentials = twilio.credentials({
      room: ROOM,
      userId: USER,
      side: 'caller',
      validForSeconds: 120,
      now,
    });
    expect(credentials).toMatchObject({
      provider: 'twilio',
      room: ROOM,
      identity: `caller-${USER}`,
      appId: null,
    });
    const { payload, protectedHeader } = await jwtVerify(
      credentials.token ?? '',
      new TextEncoder().encode(TWILIO_TEST.apiKeySecret),
    );
    expect(protectedHeader).toMatchObject({ alg: 'HS256', cty: 'twilio-fpa;v=1' });
    expect(payload).toMatchObject({
      iss: TWILIO_TEST.apiKeySid,
      sub: TWILIO_TEST.accountSid,
      grants: { identity: `caller-${USER}`, video: { room: ROOM } },
    });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(120);
  });

  it('verifies X-Twilio-Signature over the public URL and form parameters', () => {
    const url = 'https://api.olo.test/video/twilio/status';
    const params = {
      StatusCallbackEvent: 'participant-connected',
      RoomName: ROOM,
      RoomSid: 'RM123',
      ParticipantIdentity: `callee-${USER}`,
      ParticipantSid: 'PA1',
      SequenceNumber: '3',
      Timestamp: '2026-12-06T12:00:00.000Z',
    };
    const signed = twilioCallback(TWILIO_TEST.authToken, url, params);
    expect(twilio.verifyWebhook(raw(signed, url))).toEqual([
      {
        provider: 'twilio',
        eventId: 'RM123:3:participant-connected:PA1',
        room: ROOM,
        type: 'joined',
        side: 'callee',
        reason: null,
        occurredAt: new Date('2026-12-06T12:00:00.000Z'),
      },
    ]);
    // Another URL (a proxy rewrote it), another token, or changed parameters: refused.
    expect(() => twilio.verifyWebhook(raw(signed, 'https://elsewhere.test/video/twilio/status'))).toThrow(
      WebhookRejected,
    );
    expect(() => twilio.verifyWebhook(raw(twilioCallback('nope', url, params), url))).toThrow(
      WebhookRejected,
    );
    const altered = { ...signed, body: signed.body.replace('callee', 'caller') };
    expect(() => twilio.verifyWebhook(raw(altered, url))).toThrow(WebhookRejected);
    const ended = twilioCallback(TWILIO_TEST.authToken, url, {
      StatusCallbackEvent: 'room-ended',
      RoomName: ROOM,
      RoomSid: 'RM123',
      SequenceNumber: '9',
      Timestamp: '2026-12-06T12:05:00.000Z',
    });
    expect(twilio.verifyWebhook(raw(ended, url))[0]).toMatchObject({ type: 'room_ended', side: null });
  });

  it('completes a Twilio room through the REST API and reports health', async () => {
    await twilio.endRoom(ROOM);
    const update = twilioApi.requests.at(-1);
    expect(update).toMatchObject({ method: 'POST', path: `/v1/Rooms/${ROOM}`, body: 'Status=completed' });
    expect(await twilio.health()).toEqual({ healthy: true, detail: null });
    twilioApi.failWith = 500;
    expect((await twilio.health()).healthy).toBe(false);
    twilioApi.failWith = null;
  });

  it('gives the local provider no token, the configured ICE servers, and no webhooks', () => {
    const ice = parseIceServers('stun:stun.example.org:3478, turn:olo:s3cret@turn.example.org:3478');
    expect(ice).toEqual([
      { urls: ['stun:stun.example.org:3478'] },
      { urls: ['turn:turn.example.org:3478'], username: 'olo', credential: 's3cret' },
    ]);
    const local = new LocalWebRtcProvider(ice);
    const now = new Date();
    expect(local.credentials({ room: ROOM, userId: USER, side: 'callee', validForSeconds: 30, now })).toEqual(
      {
        provider: 'local',
        room: ROOM,
        identity: 'callee',
        token: null,
        appId: null,
        expiresAt: new Date(now.getTime() + 30_000),
        iceServers: ice,
      },
    );
    expect(() => local.verifyWebhook()).toThrow(WebhookRejected);
  });
});
