import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { manualClock } from '../../platform/clock.ts';
import {
  AGORA_TEST,
  agoraNotice,
  TWILIO_TEST,
  twilioCallback,
  VideoVendorLoopback,
} from '../../providers/video/video-loopback.test-support.ts';
import { callPeople, VIDEO_TEST_ENV } from './video.test-support.ts';

describe('calls through vendor providers: webhooks, replays and fall-back', () => {
  let app: TestApp;
  const clock = manualClock(new Date('2031-07-01T10:00:00Z'));
  const agoraApi = new VideoVendorLoopback(AGORA_TEST.customerId, AGORA_TEST.customerSecret);
  const twilioApi = new VideoVendorLoopback(TWILIO_TEST.apiKeySid, TWILIO_TEST.apiKeySecret);
  let people: ReturnType<typeof callPeople>;
  let notice = 0;
  const seconds = () => Math.floor(clock.now().getTime() / 1000);

  const postAgora = async (signed: { body: string; headers: Record<string, string> }) => {
    const response = await fetch(`${app.url}/video/agora/webhook`, {
      method: 'POST',
      headers: signed.headers,
      body: signed.body,
    });
    return { status: response.status, body: (await response.json()) as { outcomes?: string[] } };
  };
  const agoraEvent = (room: string, eventType: number, uid: number, reason?: number) =>
    agoraNotice(AGORA_TEST.webhookSecret, {
      noticeId: `notice-${++notice}`,
      eventType,
      channelName: room,
      uid,
      ts: seconds(),
      ...(reason === undefined ? {} : { reason }),
    });
  const accepted = async () => {
    const [user, streamer] = [await people.user(), await people.streamer()];
    const call = await app.services.calls.request(user, streamer);
    return { user, streamer, call: await app.services.calls.accept(streamer, call.id) };
  };

  beforeAll(async () => {
    const [agoraUrl, twilioUrl] = [await agoraApi.start(), await twilioApi.start()];
    app = await startTestApp({
      clock,
      env: {
        ...VIDEO_TEST_ENV,
        VIDEO_PROVIDERS: 'agora,twilio,local',
        AGORA_APP_ID: AGORA_TEST.appId,
        AGORA_APP_CERTIFICATE: AGORA_TEST.appCertificate,
        AGORA_WEBHOOK_SECRET: AGORA_TEST.webhookSecret,
        AGORA_CUSTOMER_ID: AGORA_TEST.customerId,
        AGORA_CUSTOMER_SECRET: AGORA_TEST.customerSecret,
        AGORA_API_URL: agoraUrl,
        TWILIO_ACCOUNT_SID: TWILIO_TEST.accountSid,
        TWILIO_API_KEY_SID: TWILIO_TEST.apiKeySid,
        TWILIO_API_KEY_SECRET: TWILIO_TEST.apiKeySecret,
        TWILIO_AUTH_TOKEN: TWILIO_TEST.authToken,
        TWILIO_VIDEO_API_URL: twilioUrl,
      },
    });
    await app.services.jobs.start();
    people = callPeople(app);
  });
  afterAll(async () => {
    await app?.close();
    await agoraApi.stop();
    await twilioApi.stop();
  });

  it('connects an Agora call from signed join webhooks; a replay or a bad signature changes nothing', async () => {
    const { call, user, streamer } = await accepted();
    expect(call.provider).toBe('agora');
    const token = await app.services.callRooms.credentials(user, call.id);
    expect(token).toMatchObject({ provider: 'agora', room: call.id, identity: '1', appId: AGORA_TEST.appId });

    const callerJoined = agoraEvent(call.id, 107, 1);
    expect(await postAgora(callerJoined)).toEqual({ status: 200, body: { outcomes: ['applied'] } });
    const forged = { ...agoraEvent(call.id, 107, 2), headers: { 'content-type': 'application/json' } };
    expect((await postAgora(forged)).status).toBe(401);
    const wrongKey = agoraNotice('not-the-secret', {
      noticeId: 'x',
      eventType: 107,
      channelName: call.id,
      uid: 2,
      ts: seconds(),
    });
    expect((await postAgora(wrongKey)).status).toBe(401);
    expect((await app.services.calls.find(call.id))?.state).toBe('connecting');

    const calleeJoined = agoraEvent(call.id, 107, 2);
    expect((await postAgora(calleeJoined)).body.outcomes).toEqual(['applied']);
    const live = await app.services.calls.find(call.id);
    expect(live?.state).toBe('connected');
    const version = live?.version;
    expect(await people.wallet(user)).toBe(940n);

    // Agora resends a notification it thinks we missed: recorded once, applied once.
    expect((await postAgora(calleeJoined)).body.outcomes).toEqual(['replayed']);
    expect((await postAgora(callerJoined)).body.outcomes).toEqual(['replayed']);
    expect((await app.services.calls.find(call.id))?.version).toBe(version);
    expect(await people.wallet(user)).toBe(940n);

    // The streamer's app drops out (Agora reason 2: timeout) and does not come back within the grace.
    clock.advance(5_000);
    await app.services.callRooms.heartbeat(user, call.id);
    expect((await postAgora(agoraEvent(call.id, 108, 2, 2))).body.outcomes).toEqual(['applied']);
    clock.advance(21_000);
    const ended = await app.services.calls.runDeadline(call.id);
    expect([ended?.state, ended?.endReason]).toEqual(['ended', 'disconnected']);
    // The channel is ended at Agora (a kicking rule for it).
    await expect
      .poll(() =>
        agoraApi.requests.some((r) => r.path === '/dev/v1/kicking-rule' && r.body.includes(call.id)),
      )
      .toBe(true);
    expect(streamer).toBeTruthy();
  });

  it('keeps a call through a leave and rejoin within the grace', async () => {
    const { call, user, streamer } = await accepted();
    await postAgora(agoraEvent(call.id, 107, 1));
    await postAgora(agoraEvent(call.id, 107, 2));
    clock.advance(3_000);
    await postAgora(agoraEvent(call.id, 108, 1, 10));
    clock.advance(5_000);
    await postAgora(agoraEvent(call.id, 107, 1));
    await app.services.callRooms.heartbeat(user, call.id);
    await app.services.callRooms.heartbeat(streamer, call.id);
    clock.advance(16_000);
    const after = await app.services.calls.runDeadline(call.id);
    expect(after?.state).toBe('connected');
    expect(after?.leftAt.caller).toBeNull();
  });

  it('falls back to Twilio when a client reports Agora failing, and Twilio webhooks connect it', async () => {
    const { call, user, streamer } = await accepted();
    const moved = await app.services.callRooms.reportMediaFailure(user, call.id, 'ICE failed');
    expect(moved).toMatchObject({ state: 'connecting', provider: 'twilio', providersFailed: ['agora'] });
    // Late Agora events for this room no longer count.
    expect((await postAgora(agoraEvent(call.id, 107, 1))).body.outcomes).toEqual(['ignored']);
    const token = await app.services.callRooms.credentials(streamer, call.id);
    expect(token).toMatchObject({ provider: 'twilio', identity: `callee-${streamer}` });

    const url = `${app.config.publicUrl}/video/twilio/status`;
    const post = async (identity: string, seq: number) => {
      const signed = twilioCallback(TWILIO_TEST.authToken, url, {
        StatusCallbackEvent: 'participant-connected',
        RoomName: call.id,
        RoomSid: `RM${call.id.replaceAll('-', '')}`,
        ParticipantIdentity: identity,
        ParticipantSid: `PA${seq}`,
        SequenceNumber: String(seq),
        Timestamp: clock.now().toISOString(),
      });
      const response = await fetch(url.replace(app.config.publicUrl, app.url), {
        method: 'POST',
        headers: signed.headers,
        body: signed.body,
      });
      return response.status;
    };
    expect(await post(`caller-${user}`, 1)).toBe(200);
    expect(await post(`callee-${streamer}`, 2)).toBe(200);
    expect((await app.services.calls.find(call.id))?.state).toBe('connected');
    const transitions = await app.services.video.history.transitions(call.id);
    expect(transitions.some((t) => (t.detail as { fellBackFrom?: string }).fellBackFrom === 'agora')).toBe(
      true,
    );
    await app.services.calls.hangUp(user, call.id);
  });

  it('skips a provider whose health checks fail (circuit open) and goes back to it once it recovers', async () => {
    agoraApi.failWith = 503;
    for (let i = 0; i < 3; i++) await app.services.video.selector.checkAll();
    const [agora] = await app.services.video.selector.status();
    expect(agora).toMatchObject({ name: 'agora', circuit: 'open', lastCheckOk: false });
    const { call } = await accepted();
    expect(call.provider).toBe('twilio');
    await app.services.calls.hangUp(call.calleeId, call.id);

    agoraApi.failWith = null;
    clock.advance(61_000);
    await app.services.video.selector.checkAll();
    const next = await accepted();
    expect(next.call.provider).toBe('agora');
    await app.services.calls.hangUp(next.call.calleeId, next.call.id);
  });

  it('answers 404 for a provider that is not configured here', async () => {
    const local = await startTestApp({ env: VIDEO_TEST_ENV });
    try {
      const response = await fetch(`${local.url}/video/agora/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(response.status).toBe(404);
    } finally {
      await local.close();
    }
  });
});
