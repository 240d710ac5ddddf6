import { afterEach, describe, expect, it } from 'vitest';
import { AmplitudeDestination } from './amplitude.destination.ts';
import type { AnalyticsEvent, DeliveryItem, UserContext } from './analytics.destination.ts';
import { toMajorUnits } from './analytics.destination.ts';
import {
  amplitudeLoopback,
  appsflyerLoopback,
  ga4Loopback,
  snapchatLoopback,
  type VendorLoopback,
} from './analytics-loopback.test-support.ts';
import { AppsflyerS2sDestination } from './appsflyer-s2s.destination.ts';
import { Ga4MeasurementDestination } from './ga4-measurement.destination.ts';
import { hashEmail, hashPhone } from './identifier-hashing.ts';
import { sharedTokenMatches } from './shared-token.ts';
import { SnapchatCapiDestination } from './snapchat-capi.destination.ts';

const USER_ID = '6f1c2b1e-7d0e-4c55-9a0b-2a1f7f1b9c11';
const user: UserContext = {
  email: ' Someone@Example.COM ',
  phone: '+4915112345678',
  appsflyerId: '1700000000000-1234567',
  platform: 'ios',
  attStatus: 'authorized',
  appInstanceId: 'a1b2c3d4e5f6',
};
const purchase: AnalyticsEvent = {
  eventId: 'c0a80101-0000-4000-8000-000000000001',
  name: 'purchase',
  userId: USER_ID,
  occurredAt: '2026-03-01T12:00:00.000Z',
  revenue: { amount: 4.99, currency: 'EUR' },
  properties: {
    purchaseId: 'c0a80101-0000-4000-8000-0000000000aa',
    sku: 'coins_550',
    store: 'apple',
    coins: '500',
  },
};
const signUp: AnalyticsEvent = {
  ...purchase,
  eventId: 'c0a80101-0000-4000-8000-000000000002',
  name: 'sign_up',
  revenue: null,
  properties: { method: 'email' },
};
const item = (event: AnalyticsEvent, context: UserContext = user): DeliveryItem => ({ event, user: context });
const signal = () => AbortSignal.timeout(5_000);

let servers: VendorLoopback[] = [];
const start = async (server: VendorLoopback) => {
  servers.push(server);
  return server.start();
};
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

describe('analytics destinations against loopback vendors', () => {
  it('Snapchat: SIGN_UP and PURCHASE with SHA-256 of the normalised email and phone, event_id for dedup', async () => {
    const snap = await start(snapchatLoopback('snap-app', 'snap-token'));
    const destination = new SnapchatCapiDestination({
      appId: 'snap-app',
      accessToken: 'snap-token',
      baseUrl: snap.url,
    });
    const answer = await destination.send([item(signUp), item(purchase)], signal());
    expect(answer).toMatchObject({ outcome: 'sent', httpStatus: 200 });
    expect(answer.request).not.toContain('snap-token');
    const sent = (snap.requests[0]?.body as { data: Array<Record<string, unknown>> } | undefined)?.data ?? [];
    expect(sent.map((e) => e.event_name)).toEqual(['SIGN_UP', 'PURCHASE']);
    expect(sent[0]?.user_data).toMatchObject({
      em: [hashEmail('someone@example.com')],
      ph: [hashPhone('4915112345678')],
    });
    expect(JSON.stringify(sent)).not.toContain('example.com');
    expect(sent[1]?.custom_data).toEqual({
      currency: 'EUR',
      value: '4.99',
      order_id: purchase.properties.purchaseId,
    });
    // Sent again (a retry): Snapchat counts each event_id once.
    await destination.send([item(signUp)], signal());
    expect([...snap.accepted.keys()].sort()).toEqual([signUp.eventId, purchase.eventId].sort());

    const wrong = new SnapchatCapiDestination({ appId: 'snap-app', accessToken: 'bad', baseUrl: snap.url });
    expect(await wrong.send([item(signUp)], signal())).toMatchObject({
      outcome: 'permanent',
      httpStatus: 401,
    });
  });

  it('Snapchat: advertiser_tracking_enabled only when known; a purchase without a price is refused, not sent', async () => {
    const snap = await start(snapchatLoopback('snap-app', 'snap-token'));
    const destination = new SnapchatCapiDestination({
      appId: 'snap-app',
      accessToken: 'snap-token',
      baseUrl: snap.url,
    });
    const contexts: Array<[Partial<UserContext>, number]> = [
      [{ platform: 'ios', attStatus: 'authorized' }, 1],
      [{ platform: 'ios', attStatus: 'not_determined' }, 0],
      [{ platform: 'ios', attStatus: null }, 0],
      [{ platform: null, attStatus: null }, 0],
      [{ platform: null, attStatus: 'authorized' }, 1],
      [{ platform: 'android', attStatus: null }, 1],
    ];
    await destination.send(
      contexts.map(([context]) => item(signUp, { ...user, ...context })),
      signal(),
    );
    const sent = (snap.requests[0]?.body as { data: Array<{ app_data: unknown }> } | undefined)?.data ?? [];
    expect(sent.map((e) => e.app_data)).toEqual(
      contexts.map(([, enabled]) => ({ advertiser_tracking_enabled: enabled })),
    );

    const unpriced: AnalyticsEvent = { ...purchase, revenue: null };
    expect(destination.refuses(unpriced)).toBe('purchase without a price');
    expect(destination.refuses(purchase)).toBeNull();
    expect(destination.refuses(signUp)).toBeNull();
    // What the refusal avoids: Snapchat answers such a PURCHASE with a permanent 400.
    expect(await destination.send([item(unpriced)], signal())).toMatchObject({
      outcome: 'permanent',
      httpStatus: 400,
    });
  });

  it('AppsFlyer: S2S token in the authentication header, af_purchase with revenue; waits for an AppsFlyer id', async () => {
    const af = await start(appsflyerLoopback('id123456789', 's2s-token'));
    const destination = new AppsflyerS2sDestination({
      appId: 'id123456789',
      s2sToken: 's2s-token',
      baseUrl: af.url,
    });
    expect(await destination.send([item(purchase)], signal())).toMatchObject({
      outcome: 'sent',
      httpStatus: 200,
    });
    const body = af.requests[0]?.body as Record<string, string>;
    expect(body).toMatchObject({
      appsflyer_id: user.appsflyerId,
      customer_user_id: USER_ID,
      eventName: 'af_purchase',
      eventCurrency: 'EUR',
      eventTime: '2026-03-01 12:00:00.000',
      af_events_api: 'true',
      att: 3,
    });
    expect(JSON.parse(body.eventValue ?? '{}')).toMatchObject({
      af_revenue: 4.99,
      af_currency: 'EUR',
      af_order_id: purchase.properties.purchaseId,
    });
    // The sender holds such a delivery until the attribution brings the id (see the ads domain).
    expect(destination.waitsFor({ ...user, appsflyerId: null })).toBe('appsflyer_id');
    expect(destination.waitsFor(user)).toBeNull();
    expect(await destination.send([item(signUp, { ...user, appsflyerId: null })], signal())).toMatchObject({
      outcome: 'skipped',
    });
    expect(af.requests).toHaveLength(1);
    const forged = new AppsflyerS2sDestination({ appId: 'id123456789', s2sToken: 'nope', baseUrl: af.url });
    expect(await forged.send([item(signUp)], signal())).toMatchObject({
      outcome: 'permanent',
      httpStatus: 401,
    });
  });

  it('Amplitude: one batch with insert_id per event and revenue fields; the API key stays out of the log', async () => {
    const amp = await start(amplitudeLoopback('amp-key'));
    const destination = new AmplitudeDestination({ apiKey: 'amp-key', baseUrl: amp.url });
    const answer = await destination.send([item(signUp), item(purchase)], signal());
    expect(answer).toMatchObject({ outcome: 'sent', httpStatus: 200 });
    expect(answer.request).not.toContain('amp-key');
    expect(amp.requests).toHaveLength(1);
    const events =
      (amp.requests[0]?.body as { events: Array<Record<string, unknown>> } | undefined)?.events ?? [];
    expect(events.map((e) => [e.event_type, e.insert_id])).toEqual([
      ['sign_up', signUp.eventId],
      ['purchase', purchase.eventId],
    ]);
    expect(events[1]).toMatchObject({
      user_id: USER_ID,
      revenue: 4.99,
      price: 4.99,
      quantity: 1,
      productId: 'coins_550',
      platform: 'iOS',
    });
    amp.script({ status: 429, body: { code: 429, error: 'Too many requests for some devices and users' } });
    expect(await destination.send([item(signUp)], signal())).toMatchObject({
      outcome: 'transient',
      httpStatus: 429,
    });
    const badKey = new AmplitudeDestination({ apiKey: 'wrong', baseUrl: amp.url });
    expect(await badKey.send([item(signUp)], signal())).toMatchObject({
      outcome: 'permanent',
      httpStatus: 400,
    });
  });

  it('GA4 Measurement Protocol: purchase with transaction_id, for a Firebase app stream or a measurement id', async () => {
    const firebase = await start(ga4Loopback({ firebaseAppId: '1:123:ios:abc' }, 'mp-secret'));
    const app = new Ga4MeasurementDestination({
      apiSecret: 'mp-secret',
      baseUrl: firebase.url,
      firebaseAppId: '1:123:ios:abc',
    });
    const answer = await app.send([item(purchase)], signal());
    expect(answer).toMatchObject({ outcome: 'sent', httpStatus: 204 });
    expect(answer.request).not.toContain('mp-secret');
    expect(firebase.requests[0]?.body).toMatchObject({
      app_instance_id: user.appInstanceId,
      user_id: USER_ID,
      events: [
        {
          name: 'purchase',
          params: { currency: 'EUR', value: 4.99, transaction_id: purchase.properties.purchaseId },
        },
      ],
    });
    expect(await app.send([item(purchase, { ...user, appInstanceId: null })], signal())).toMatchObject({
      outcome: 'skipped',
    });
    // An unknown price is left out, not reported as revenue of 0.
    await app.send([item({ ...purchase, eventId: signUp.eventId, revenue: null })], signal());
    const last = firebase.requests.at(-1)?.body as { events: Array<{ params: object }> } | undefined;
    const unpriced = last?.events[0];
    expect(unpriced?.params).not.toHaveProperty('value');
    expect(unpriced?.params).not.toHaveProperty('currency');

    const web = await start(ga4Loopback({ measurementId: 'G-TEST' }, 'mp-secret'));
    const stream = new Ga4MeasurementDestination({
      apiSecret: 'mp-secret',
      baseUrl: web.url,
      measurementId: 'G-TEST',
    });
    expect(await stream.send([item(purchase)], signal())).toMatchObject({ outcome: 'sent' });
    expect(web.requests[0]?.body).toMatchObject({ client_id: `olo.${USER_ID}` });
  });

  it('classifies 5xx and an unreachable vendor as transient, other 4xx as permanent', async () => {
    const snap = await start(snapchatLoopback('snap-app', 'snap-token'));
    const destination = new SnapchatCapiDestination({
      appId: 'snap-app',
      accessToken: 'snap-token',
      baseUrl: snap.url,
    });
    snap.script({ status: 503, body: {} }, { status: 400, body: { status: 'INVALID' } });
    expect(await destination.send([item(signUp)], signal())).toMatchObject({
      outcome: 'transient',
      httpStatus: 503,
    });
    expect(await destination.send([item(signUp)], signal())).toMatchObject({
      outcome: 'permanent',
      httpStatus: 400,
    });
    await snap.close();
    servers = [];
    expect(await destination.send([item(signUp)], signal())).toMatchObject({
      outcome: 'transient',
      httpStatus: null,
    });
  });

  it('converts minor units by the currency and compares shared tokens exactly', () => {
    expect(toMajorUnits(499n, 'EUR')).toBe(4.99);
    expect(toMajorUnits(500n, 'JPY')).toBe(500);
    expect(toMajorUnits(1234n, 'KWD')).toBe(1.234);
    expect(sharedTokenMatches('s3cret-token-value', 's3cret-token-value')).toBe(true);
    expect(sharedTokenMatches('s3cret-token-value', 'Bearer s3cret-token-value')).toBe(true);
    expect(sharedTokenMatches('s3cret-token-value', 's3cret-token-valuX')).toBe(false);
    expect(sharedTokenMatches('s3cret-token-value', undefined)).toBe(false);
  });
});
