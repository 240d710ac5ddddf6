import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { gql } from '../../../test/graphql-client.ts';
import {
  amplitudeLoopback,
  appsflyerLoopback,
  snapchatLoopback,
  type VendorLoopback,
} from '../../providers/analytics/analytics-loopback.test-support.ts';
import { buyCoins } from '../mission_control/money-report.testing.ts';
import { purchaseCompleted } from '../payment/payment.events.ts';
import { waitFor } from '../timetable/testing.ts';
import type { AuthTokens } from '../user/session.service.ts';
import type { Delivery } from './delivery.repository.ts';

const SIGN_UP = `mutation($email: String!, $password: String!) {
  signUpWithEmail(email: $email, password: $password) { userId accessToken }
}`;
const REPORT = `mutation($data: JSON!, $afId: String, $platform: DevicePlatform) {
  reportAttribution(conversionData: $data, appsflyerId: $afId, platform: $platform) { appsflyerId }
}`;
const WAIT_HOURS = 72;

// Delivery rules beyond the happy path: waiting for the AppsFlyer id, giving up on it, refusing what a
// vendor would refuse, retries running out, and the product events only Amplitude charts.
describe('ads: postbacks that wait, are refused, or run out of retries', () => {
  let app: TestApp;
  let admin: AuthTokens;
  let snap: VendorLoopback;
  let af: VendorLoopback;
  let amp: VendorLoopback;

  const signUp = async () => {
    const result = await gql<{ signUpWithEmail: { userId: string; accessToken: string } }>(app.url, SIGN_UP, {
      email: `p-${randomUUID()}@example.com`,
      password: 'a-long-enough-password',
    });
    expect(result.errors).toBeUndefined();
    return result.data?.signUpWithEmail as { userId: string; accessToken: string };
  };
  const deliveryOf = async (userId: string, destination: string, eventType = 'user_sign_up') =>
    (await app.services.ads.deliveryLog.list({ userId, destination }, 100, undefined)).find(
      (d) => d.eventType === eventType,
    );
  const settled = (userId: string, destination: string, eventType?: string) =>
    waitFor(`the ${destination} delivery of ${userId} to settle`, async () => {
      const row = await deliveryOf(userId, destination, eventType);
      return row && row.status !== 'pending' ? row : undefined;
    });
  const requestsMentioning = (server: VendorLoopback, text: string) =>
    server.requests.filter((r) => JSON.stringify(r.body).includes(text));
  const report = (user: { accessToken: string }, afId: string | null) =>
    gql(
      app.url,
      REPORT,
      { data: { af_status: 'Non-organic', media_source: 'snapchat_int' }, afId, platform: 'ANDROID' },
      { token: user.accessToken },
    );

  beforeAll(async () => {
    snap = await snapchatLoopback('snap-app', 'snap-token').start();
    af = await appsflyerLoopback('com.olo.app', 'af-s2s-token').start();
    amp = await amplitudeLoopback('amp-key').start();
    app = await startTestApp({
      env: {
        SNAPCHAT_APP_ID: 'snap-app',
        SNAPCHAT_ACCESS_TOKEN: 'snap-token',
        SNAPCHAT_CAPI_URL: snap.url,
        APPSFLYER_APP_ID: 'com.olo.app',
        APPSFLYER_S2S_TOKEN: 'af-s2s-token',
        APPSFLYER_S2S_URL: af.url,
        AMPLITUDE_API_KEY: 'amp-key',
        AMPLITUDE_API_URL: amp.url,
        ADS_RETRY_BASE_MS: '1',
        ADS_MAX_ATTEMPTS: '3',
        ADS_ATTRIBUTION_WAIT_HOURS: String(WAIT_HOURS),
      },
    });
    await app.services.jobs.start();
    admin = await app.signIn(['user', 'admin']);
  });
  afterAll(async () => {
    await app?.close();
    await Promise.all([snap, af, amp].map((s) => s?.close()));
  });

  it('holds an AppsFlyer sign-up until the attribution brings the AppsFlyer id, then sends it once', async () => {
    const user = await signUp();
    const held = await settled(user.userId, 'appsflyer');
    expect(held).toMatchObject({ status: 'waiting', lastError: 'waiting for appsflyer_id', attempts: 0 });
    expect(await app.services.ads.deliveryLog.attemptsOf([held.id])).toEqual([]);
    // Nothing is known about the device: Snapchat is not told tracking is enabled.
    const snapEvent = requestsMentioning(snap, held.eventId)[0]?.body as {
      data: Array<{ app_data: unknown }>;
    };
    expect(snapEvent.data[0]?.app_data).toEqual({ advertiser_tracking_enabled: 0 });

    // An attribution without the id resumes the delivery, which goes back to waiting.
    expect((await report(user, null)).errors).toBeUndefined();
    await waitFor('the delivery to wait again', async () => {
      const row = await deliveryOf(user.userId, 'appsflyer');
      return row?.status === 'waiting' && row.updatedAt > held.updatedAt ? row : undefined;
    });

    const afId = '1700000000000-2222222';
    expect((await report(user, afId)).errors).toBeUndefined();
    const sent = await settled(user.userId, 'appsflyer');
    expect(sent).toMatchObject({ status: 'sent', attempts: 1, lastError: null });
    expect(requestsMentioning(af, held.eventId).map((r) => r.body)).toEqual([
      expect.objectContaining({
        appsflyer_id: afId,
        customer_user_id: user.userId,
        eventName: 'af_complete_registration',
      }),
    ]);
    expect(
      (await app.services.ads.deliveryLog.attemptsOf([sent.id])).map((a) => [a.attempt, a.outcome]),
    ).toEqual([[1, 'sent']]);

    // A later report resumes nothing: the sign-up is never sent again.
    expect((await report(user, '1700000000000-3333333')).errors).toBeUndefined();
    await app.services.ads.deliveries.flushAll();
    expect(requestsMentioning(af, held.eventId)).toHaveLength(1);
    expect((await deliveryOf(user.userId, 'appsflyer'))?.status).toBe('sent');
  });

  it('gives up on a delivery that waited longer than ADS_ATTRIBUTION_WAIT_HOURS', async () => {
    const user = await signUp();
    const held = await settled(user.userId, 'appsflyer');
    expect(held.status).toBe('waiting');
    await app.database.handle.db
      .updateTable('ads.deliveries')
      .set({ created_at: new Date(Date.now() - (WAIT_HOURS + 1) * 3600_000) })
      .where('id', '=', held.id)
      .execute();
    await app.services.ads.deliveries.sweep();
    expect(await deliveryOf(user.userId, 'appsflyer')).toMatchObject({
      status: 'skipped',
      lastError: `waiting for appsflyer_id, none after ${WAIT_HOURS} h`,
    });
    expect((await report(user, '1700000000000-4444444')).errors).toBeUndefined();
    await app.services.ads.deliveries.flushAll();
    expect(requestsMentioning(af, held.eventId)).toEqual([]);
    expect((await deliveryOf(user.userId, 'appsflyer'))?.status).toBe('skipped');
  });

  it('records a Snapchat purchase without a known price as skipped, and never sends it', async () => {
    const user = await signUp();
    // A store that does not report the price (Google Play's purchase API does not) emits no amount.
    const purchaseId = randomUUID();
    await app.database.handle.db.transaction().execute((tx) =>
      app.services.eventLog.emit(
        tx,
        purchaseCompleted.event(
          {
            purchaseId,
            userId: user.userId,
            store: 'google',
            productId: randomUUID(),
            sku: 'coins_100',
            coins: '100',
            bonusCoins: '0',
            priceAmountMinor: null,
            currency: null,
          },
          { userId: user.userId },
        ),
      ),
    );
    const skipped = await settled(user.userId, 'snapchat', 'purchase_completed');
    expect(skipped).toMatchObject({ status: 'skipped', lastError: 'purchase without a price', attempts: 0 });
    // Amplitude still charts the purchase, without revenue.
    const charted = await settled(user.userId, 'amplitude', 'purchase_completed');
    expect(charted.status).toBe('sent');
    await app.services.ads.deliveries.flushAll();
    expect(requestsMentioning(snap, purchaseId)).toEqual([]);
    expect(amp.accepted.get(charted.eventId)).not.toHaveProperty('revenue');
  });

  it('sends onboarding_completed and gift_sent to Amplitude (the only vendor that charts them)', async () => {
    const user = await signUp();
    const onboarded = await gql(
      app.url,
      `mutation($input: UpdateProfileInput!) { updateMyProfile(input: $input) { onboarding { completed } } }`,
      { input: { displayName: 'Ada', birthDate: '1990-06-15', gender: 'female', country: 'DE' } },
      { token: user.accessToken },
    );
    expect(onboarded.data).toEqual({ updateMyProfile: { onboarding: { completed: true } } });

    const gift = await gql<{ createGift: { id: string } }>(
      app.url,
      `mutation($input: GiftCreateInput!) { createGift(input: $input) { id } }`,
      {
        input: {
          name: `Rose ${randomUUID().slice(0, 8)}`,
          imageUrl: 'https://cdn.example/rose.png',
          price: 10,
          shareBps: 5000,
        },
      },
      { token: admin.accessToken },
    );
    const streamer = await app.signIn(['user', 'streamer']);
    await buyCoins(app, user.userId, 50n);
    const sentGift = await gql(
      app.url,
      `mutation($giftId: ID!, $streamerId: ID!, $clientId: String!) {
        sendGift(giftId: $giftId, streamerId: $streamerId, clientId: $clientId, context: CHAT) { id }
      }`,
      { giftId: gift.data?.createGift.id, streamerId: streamer.userId, clientId: randomUUID() },
      { token: user.accessToken },
    );
    expect(sentGift.errors).toBeUndefined();

    const onboarding = await settled(user.userId, 'amplitude', 'onboarding_completed');
    const gifted = await settled(user.userId, 'amplitude', 'gift_sent');
    expect([onboarding.status, gifted.status]).toEqual(['sent', 'sent']);
    expect(amp.accepted.get(onboarding.eventId)).toMatchObject({
      user_id: user.userId,
      event_type: 'onboarding_completed',
      event_properties: { country: 'DE' },
    });
    expect(amp.accepted.get(gifted.eventId)).toMatchObject({
      user_id: user.userId,
      event_type: 'gift_sent',
      event_properties: { giftId: gift.data?.createGift.id, streamerId: streamer.userId, coins: 10 },
    });
    // Neither is a Snapchat or AppsFlyer event.
    for (const destination of ['snapchat', 'appsflyer']) {
      expect(await deliveryOf(user.userId, destination, 'gift_sent')).toBeUndefined();
      expect(await deliveryOf(user.userId, destination, 'onboarding_completed')).toBeUndefined();
    }
  });

  it('marks a delivery failed once ADS_MAX_ATTEMPTS transient errors are used, with every attempt recorded', async () => {
    // Earlier tests' deliveries must not take the scripted answers.
    await waitFor('no Amplitude delivery in flight', async () => {
      const pending = await app.services.ads.deliveryLog.list(
        { destination: 'amplitude', status: 'pending' },
        1,
        undefined,
      );
      return pending.length === 0;
    });
    amp.script(
      { status: 503, body: { code: 503 } },
      { status: 429, body: { code: 429 } },
      { status: 500, body: { code: 500 } },
    );
    const user = await signUp();
    const failed: Delivery = await settled(user.userId, 'amplitude');
    expect(failed).toMatchObject({
      status: 'failed',
      attempts: 3,
      lastError: expect.stringMatching(/^500: /),
    });
    expect(
      (await app.services.ads.deliveryLog.attemptsOf([failed.id])).map((a) => [
        a.attempt,
        a.outcome,
        a.httpStatus,
      ]),
    ).toEqual([
      [1, 'transient', 503],
      [2, 'transient', 429],
      [3, 'transient', 500],
    ]);
    // Failed is final: neither a flush nor the sweep sends it again.
    await app.services.ads.deliveries.sweep();
    await app.services.ads.deliveries.flushAll();
    expect(requestsMentioning(amp, failed.eventId)).toHaveLength(3);
    expect(amp.accepted.has(failed.eventId)).toBe(false);
    const stats = await app.services.ads.deliveryLog.stats();
    expect(stats.find((s) => s.destination === 'amplitude')).toMatchObject({
      failed: 1,
      failedAttempts: 3,
    });
  });
});
