import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../platform/clock.ts';
import { parseServiceAccount } from '../google/service-account-token.ts';
import { ApnsProvider } from './apns.provider.ts';
import { FcmProvider } from './fcm.provider.ts';
import { OneSignalProvider } from './onesignal.provider.ts';
import type { PushMessage, PushTarget } from './push.provider.ts';
import {
  apnsKey,
  googleServiceAccount,
  startApnsLoopback,
  startFcmLoopback,
  startOneSignalLoopback,
  startWebPushLoopback,
  vapidKeys,
} from './push-loopback.test-support.ts';
import { WebPushProvider } from './webpush.provider.ts';

const clock = manualClock(new Date());
const NOTIFICATION_ID = '0b9d3c1e-6a55-4f0e-9d8b-2a7f1b6c4d11';
const target = (
  kind: PushTarget['kind'],
  token: string,
  platform: PushTarget['platform'] = 'ios',
): PushTarget => ({
  tokenId: `${token}-id`,
  userId: 'c4c1a7a8-66b1-4f57-8c32-1e0fb2d8e9a0',
  kind,
  platform,
  token,
});
const message = (overrides: Partial<PushMessage> = {}): PushMessage => ({
  notificationId: NOTIFICATION_ID,
  kind: 'gift_received',
  title: 'You received a gift',
  body: 'A gift worth 50 coins',
  data: { giftId: 'g1' },
  priority: 'normal',
  expiresAt: new Date(clock.now().getTime() + 3600_000),
  call: false,
  ...overrides,
});

describe('APNs over HTTP/2 with a .p8 key', () => {
  const key = apnsKey();
  let apns: Awaited<ReturnType<typeof startApnsLoopback>>;
  let provider: ApnsProvider;

  beforeAll(async () => {
    apns = await startApnsLoopback({ teamId: 'TEAM123456', keyId: 'KEY1234567', publicKey: key.publicKey });
    provider = new ApnsProvider({
      url: apns.url,
      teamId: 'TEAM123456',
      keyId: 'KEY1234567',
      privateKeyPem: key.privateKeyPem,
      bundleId: 'com.olo.app',
      clock,
      ca: apns.caPem,
    });
  });
  afterAll(async () => {
    await provider?.close();
    await apns?.close();
  });

  it('sends an incoming call to a VoIP token as a voip push on <bundle>.voip, expiring with the ring', async () => {
    const ringEnds = new Date(clock.now().getTime() + 30_000);
    const result = await provider.send(
      target('apns_voip', 'voip-token-1'),
      message({
        kind: 'incoming_call',
        call: true,
        priority: 'high',
        expiresAt: ringEnds,
        data: { callId: 'c1' },
      }),
    );
    expect(result).toEqual({ outcome: 'sent', providerId: NOTIFICATION_ID });
    const request = apns.requests.at(-1);
    expect(request?.token).toBe('voip-token-1');
    expect(request?.headers).toMatchObject({
      ':method': 'POST',
      ':path': '/3/device/voip-token-1',
      'apns-push-type': 'voip',
      'apns-topic': 'com.olo.app.voip',
      'apns-priority': '10',
      'apns-expiration': String(Math.floor(ringEnds.getTime() / 1000)),
    });
    expect(request?.headers['apns-collapse-id']).toBeUndefined();
    expect(request?.payload).toMatchObject({
      callId: 'c1',
      kind: 'incoming_call',
      notificationId: NOTIFICATION_ID,
    });
  });

  it('sends other kinds as alerts on the bundle topic, and refuses a VoIP push that is not a call', async () => {
    expect(await provider.send(target('apns', 'alert-token'), message())).toMatchObject({ outcome: 'sent' });
    expect(apns.requests.at(-1)?.headers).toMatchObject({
      'apns-push-type': 'alert',
      'apns-topic': 'com.olo.app',
      'apns-priority': '5',
      'apns-collapse-id': NOTIFICATION_ID,
    });
    expect(apns.requests.at(-1)?.payload).toMatchObject({ aps: { alert: { title: 'You received a gift' } } });
    const before = apns.requests.length;
    expect(
      await provider.send(target('apns_voip', 'voip-token-1'), message({ kind: 'call_cancelled' })),
    ).toMatchObject({
      outcome: 'failed',
    });
    expect(apns.requests.length).toBe(before);
  });

  it('maps Unregistered and BadDeviceToken to invalid_token, 503 to retry, over one reused connection', async () => {
    expect(await provider.send(target('apns', 'gone-1'), message())).toEqual({
      outcome: 'invalid_token',
      reason: 'Unregistered',
    });
    expect(await provider.send(target('apns', 'bad-1'), message())).toEqual({
      outcome: 'invalid_token',
      reason: 'BadDeviceToken',
    });
    expect(await provider.send(target('apns', 'busy-1'), message())).toEqual({
      outcome: 'retry',
      reason: 'ServiceUnavailable',
    });
    expect(apns.sessions()).toBe(1);
    expect(provider.connectionsOpened).toBe(1);
  });

  it('is at-most-once for VoIP (a second ring) and at-least-once for alerts (collapse id)', () => {
    expect(provider.redelivery(target('apns_voip', 'x'))).toBe('at_most_once');
    expect(provider.redelivery(target('apns', 'x'))).toBe('at_least_once');
  });
});

describe('FCM HTTP v1 with a service account', () => {
  const account = googleServiceAccount();
  let fcm: Awaited<ReturnType<typeof startFcmLoopback>>;
  let provider: FcmProvider;

  beforeAll(async () => {
    fcm = await startFcmLoopback(account);
    provider = new FcmProvider({
      projectId: 'olo-test',
      credentials: parseServiceAccount(account.json),
      clock,
      apiUrl: fcm.url,
      tokenUrl: fcm.tokenUrl,
    });
  });
  afterAll(async () => {
    await fcm?.close();
  });

  it('exchanges the service-account JWT once and sends notifications with the cached token', async () => {
    expect(await provider.send(target('fcm', 'android-1', 'android'), message())).toEqual({
      outcome: 'sent',
      providerId: 'projects/olo-test/messages/1',
    });
    expect(await provider.send(target('fcm', 'android-2', 'android'), message())).toMatchObject({
      outcome: 'sent',
    });
    expect(fcm.exchanges()).toBe(1);
    expect(fcm.messages[0]?.message).toMatchObject({
      token: 'android-1',
      notification: { title: 'You received a gift', body: 'A gift worth 50 coins' },
      data: { giftId: 'g1', notificationId: NOTIFICATION_ID, kind: 'gift_received' },
      android: { priority: 'NORMAL', ttl: '3600s', collapse_key: NOTIFICATION_ID },
    });
  });

  it('sends a call as a high-priority data-only message', async () => {
    await provider.send(
      target('fcm', 'android-3', 'android'),
      message({ kind: 'incoming_call', call: true, priority: 'high' }),
    );
    const sent = fcm.messages.at(-1)?.message;
    expect(sent?.notification).toBeUndefined();
    expect(sent).toMatchObject({
      android: { priority: 'HIGH' },
      data: { kind: 'incoming_call', title: 'You received a gift' },
    });
  });

  it('maps UNREGISTERED to invalid_token and 503 to retry', async () => {
    expect(await provider.send(target('fcm', 'gone-2', 'android'), message())).toMatchObject({
      outcome: 'invalid_token',
    });
    expect(await provider.send(target('fcm', 'busy-2', 'android'), message())).toMatchObject({
      outcome: 'retry',
    });
  });
});

describe('OneSignal REST', () => {
  let oneSignal: Awaited<ReturnType<typeof startOneSignalLoopback>>;
  let provider: OneSignalProvider;

  beforeAll(async () => {
    oneSignal = await startOneSignalLoopback({ appId: 'app-1', apiKey: 'os-key' });
    provider = new OneSignalProvider({ appId: 'app-1', apiKey: 'os-key', clock, apiUrl: oneSignal.url });
  });
  afterAll(async () => {
    await oneSignal?.close();
  });

  it('sends to one subscription with an idempotency key that makes a resend a no-op', async () => {
    const first = await provider.send(target('onesignal', 'sub-1', 'android'), message());
    const again = await provider.send(target('onesignal', 'sub-1', 'android'), message());
    expect(first).toEqual({ outcome: 'sent', providerId: 'os-1' });
    expect(again).toEqual(first);
    expect(oneSignal.requests[0]).toMatchObject({
      include_subscription_ids: ['sub-1'],
      headings: { en: 'You received a gift' },
      contents: { en: 'A gift worth 50 coins' },
      ttl: 3600,
    });
    expect(oneSignal.requests[0]?.idempotency_key).toBe(oneSignal.requests[1]?.idempotency_key);
  });

  it('counts an HTTP 200 with errors as a failure: invalid ids and unsubscribed remove the token', async () => {
    expect(await provider.send(target('onesignal', 'gone-3', 'android'), message())).toMatchObject({
      outcome: 'invalid_token',
    });
    expect(await provider.send(target('onesignal', 'unsub-3', 'android'), message())).toMatchObject({
      outcome: 'invalid_token',
    });
    const wrong = new OneSignalProvider({ appId: 'app-2', apiKey: 'os-key', clock, apiUrl: oneSignal.url });
    expect(await wrong.send(target('onesignal', 'sub-4', 'android'), message())).toMatchObject({
      outcome: 'failed',
    });
  });
});

describe('Web Push with VAPID', () => {
  let service: Awaited<ReturnType<typeof startWebPushLoopback>>;
  let provider: WebPushProvider;

  beforeAll(async () => {
    service = await startWebPushLoopback();
    const keys = vapidKeys();
    provider = new WebPushProvider({
      vapidPublicKey: keys.publicKey,
      vapidPrivateKey: keys.privateKey,
      subject: 'mailto:ops@olo.test',
      clock,
    });
  });
  afterAll(async () => {
    await service?.close();
  });

  it('encrypts the payload for the subscription (RFC 8291) and signs a VAPID JWT for the push service', async () => {
    const token = service.subscribe('browser-1');
    const result = await provider.send(target('webpush', token, 'web'), message({ priority: 'high' }));
    expect(result).toMatchObject({ outcome: 'sent' });
    const delivery = service.deliveries.at(-1);
    expect(delivery?.plaintext).toEqual({
      notificationId: NOTIFICATION_ID,
      kind: 'gift_received',
      title: 'You received a gift',
      body: 'A gift worth 50 coins',
      data: { giftId: 'g1' },
    });
    expect(delivery?.headers).toMatchObject({
      ttl: '3600',
      urgency: 'high',
      topic: NOTIFICATION_ID.replaceAll('-', ''),
    });
  });

  it('maps 410 Gone and a token that is not a subscription to invalid_token', async () => {
    const gone = JSON.stringify({
      endpoint: `${service.url}/gone/x`,
      keys: JSON.parse(service.subscribe('b2')).keys,
    });
    expect(await provider.send(target('webpush', gone, 'web'), message())).toMatchObject({
      outcome: 'invalid_token',
    });
    expect(await provider.send(target('webpush', 'not json', 'web'), message())).toMatchObject({
      outcome: 'invalid_token',
    });
  });
});
