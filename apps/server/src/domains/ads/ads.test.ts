import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import {
  amplitudeLoopback,
  appsflyerLoopback,
  ga4Loopback,
  snapchatLoopback,
  type VendorLoopback,
} from '../../providers/analytics/analytics-loopback.test-support.ts';
import { hashEmail } from '../../providers/analytics/identifier-hashing.ts';
import { createProduct } from '../payment/payment.test-support.ts';
import { waitFor } from '../timetable/testing.ts';
import type { AuthTokens } from '../user/session.service.ts';

const PUSH_TOKEN = 'appsflyer-push-token-0123456789';
const SIGN_UP = `mutation($email: String!, $password: String!) {
  signUpWithEmail(email: $email, password: $password) { userId accessToken }
}`;
const CONSENT = `mutation($optedOut: Boolean, $att: AttStatus) {
  setTrackingConsent(optedOut: $optedOut, attStatus: $att) { optedOut attStatus tracked }
}`;
const REPORT = `mutation($data: JSON!, $afId: String, $platform: DevicePlatform) {
  reportAttribution(conversionData: $data, appsflyerId: $afId, platform: $platform) { mediaSource campaign isOrganic installTime }
}`;

describe('ads: attribution, postbacks, the admin reports', () => {
  let app: TestApp;
  let admin: AuthTokens;
  let snap: VendorLoopback;
  let af: VendorLoopback;
  let amp: VendorLoopback;
  let ga4: VendorLoopback;

  const signUp = async () => {
    const email = `u-${randomUUID()}@Example.com`;
    const result = await gql<{ signUpWithEmail: { userId: string; accessToken: string } }>(app.url, SIGN_UP, {
      email,
      password: 'a-long-enough-password',
    });
    expect(result.errors).toBeUndefined();
    return { ...(result.data?.signUpWithEmail as { userId: string; accessToken: string }), email };
  };
  const deliveriesOf = (userId: string) => app.services.ads.deliveryLog.list({ userId }, 100, undefined);
  /** Waits until the job queue has sent (or given up on) every delivery of the user. */
  const delivered = (userId: string, count: number) =>
    waitFor(`${count} settled deliveries of ${userId}`, async () => {
      const rows = await deliveriesOf(userId);
      return rows.length >= count && rows.every((d) => d.status !== 'pending') ? rows : undefined;
    });
  const requestsMentioning = (server: VendorLoopback, text: string) =>
    server.requests.filter((r) => JSON.stringify(r.body).includes(text));

  beforeAll(async () => {
    snap = await snapchatLoopback('snap-app', 'snap-token').start();
    af = await appsflyerLoopback('id123456789', 'af-s2s-token').start();
    amp = await amplitudeLoopback('amp-key').start();
    ga4 = await ga4Loopback({ measurementId: 'G-OLO' }, 'mp-secret').start();
    app = await startTestApp({
      env: {
        SNAPCHAT_APP_ID: 'snap-app',
        SNAPCHAT_ACCESS_TOKEN: 'snap-token',
        SNAPCHAT_CAPI_URL: snap.url,
        APPSFLYER_APP_ID: 'id123456789',
        APPSFLYER_S2S_TOKEN: 'af-s2s-token',
        APPSFLYER_S2S_URL: af.url,
        APPSFLYER_PUSH_TOKEN: PUSH_TOKEN,
        AMPLITUDE_API_KEY: 'amp-key',
        AMPLITUDE_API_URL: amp.url,
        GA4_API_SECRET: 'mp-secret',
        GA4_MEASUREMENT_ID: 'G-OLO',
        GA4_MP_URL: ga4.url,
        ADS_EVENT_SINK: 'true',
        ADS_RETRY_BASE_MS: '1',
        ADS_MAX_ATTEMPTS: '3',
      },
    });
    // The senders run as jobs, as in production.
    await app.services.jobs.start();
    admin = await app.signIn(['user', 'admin']);
  });
  afterAll(async () => {
    await app?.close();
    await Promise.all([snap, af, amp, ga4].map((s) => s?.close()));
  });

  it('sends a sign-up to Snapchat once, hashed, and to every destination that charts it', async () => {
    const user = await signUp();
    const rows = await delivered(user.userId, 4);
    expect(rows.map((d) => d.destination).sort()).toEqual(['amplitude', 'appsflyer', 'sink', 'snapchat']);
    // Flushing again finds nothing due: a sent delivery is never sent again.
    await app.services.ads.deliveries.flushAll();
    const eventId = rows[0]?.eventId as string;
    const snapRequests = requestsMentioning(snap, eventId);
    expect(snapRequests).toHaveLength(1);
    const sent = (snapRequests[0]?.body as { data: Array<Record<string, unknown>> } | undefined)?.data[0];
    expect(sent).toMatchObject({
      event_name: 'SIGN_UP',
      event_id: eventId,
      user_data: { em: [hashEmail(user.email)] },
    });
    expect(JSON.stringify(snapRequests[0]?.body)).not.toContain(user.email.toLowerCase());
    expect(amp.accepted.has(eventId)).toBe(true);
    const after = await deliveriesOf(user.userId);
    expect(Object.fromEntries(after.map((d) => [d.destination, d.status]))).toEqual({
      snapchat: 'sent',
      amplitude: 'sent',
      sink: 'sent',
      // No AppsFlyer id yet: held until the attribution brings one.
      appsflyer: 'waiting',
    });
  });

  it('never sends anything about a user who opted out (or whose ATT answer is denied)', async () => {
    const { sku } = await createProduct(app, admin.accessToken, {
      sku: `coins_${randomUUID().slice(0, 8)}`,
      coins: 100,
    });
    const vendorRequests = () =>
      snap.requests.length + amp.requests.length + af.requests.length + ga4.requests.length;
    for (const consent of [{ optedOut: true }, { att: 'DENIED' }, { att: 'RESTRICTED' }]) {
      const user = await signUp();
      await delivered(user.userId, 4);
      const set = await gql<{ setTrackingConsent: { tracked: boolean } }>(app.url, CONSENT, consent, {
        token: user.accessToken,
      });
      expect(set.data?.setTrackingConsent.tracked).toBe(false);
      const before = vendorRequests();
      const purchase = await app.services.payments.sandboxPurchase(user.userId, sku, null);
      const rows = await delivered(user.userId, 4 + 5);
      const purchaseRows = rows.filter((d) => d.eventType === 'purchase_completed');
      expect(purchaseRows.map((d) => [d.destination, d.status, d.lastError]).sort()).toEqual(
        ['amplitude', 'appsflyer', 'ga4', 'sink', 'snapchat'].map((name) => [name, 'skipped', 'opted_out']),
      );
      await app.services.ads.deliveries.flushAll();
      expect(vendorRequests()).toBe(before);
      for (const server of [snap, amp, af, ga4]) expect(requestsMentioning(server, purchase.id)).toEqual([]);
      const sink = await app.services.ads.deliveryLog.listSinkEvents(
        { userId: user.userId, name: 'purchase' },
        10,
        undefined,
      );
      expect(sink).toEqual([]);
    }
  });

  it('records a permanent 4xx and does not retry it; retries a 503 with back-off', async () => {
    snap.script({ status: 400, body: { status: 'INVALID', reason: 'bad pixel' } });
    const user = await signUp();
    const rows = await delivered(user.userId, 4);
    const failed = rows.find((d) => d.destination === 'snapchat');
    expect(failed).toMatchObject({ status: 'failed', attempts: 1 });
    await app.services.ads.deliveries.flush('snapchat');
    await app.services.ads.deliveries.sweep();
    const attempts = await app.services.ads.deliveryLog.attemptsOf([failed?.id ?? 0n]);
    expect(attempts).toEqual([
      expect.objectContaining({
        attempt: 1,
        outcome: 'permanent',
        httpStatus: 400,
        response: expect.stringContaining('bad pixel'),
      }),
    ]);
    expect(requestsMentioning(snap, failed?.eventId ?? '-')).toHaveLength(1);
    expect((await deliveriesOf(user.userId)).find((d) => d.destination === 'snapchat')?.status).toBe(
      'failed',
    );

    amp.script({ status: 503, body: { code: 503 } });
    const other = await signUp();
    const done = (await delivered(other.userId, 4)).find((d) => d.destination === 'amplitude');
    expect(done).toMatchObject({ status: 'sent', attempts: 2 });
    expect(
      (await app.services.ads.deliveryLog.attemptsOf([done?.id ?? 0n])).map((a) => [
        a.attempt,
        a.outcome,
        a.httpStatus,
      ]),
    ).toEqual([
      [1, 'transient', 503],
      [2, 'sent', 200],
    ]);
  });

  it("refuses a forged AppsFlyer push and records a genuine one as the user's attribution", async () => {
    const user = await signUp();
    const push = {
      event_name: 'install',
      customer_user_id: user.userId,
      appsflyer_id: '1700000000000-7654321',
      media_source: 'snapchat_int',
      campaign: 'spring_launch',
      af_adset: 'adset-1',
      af_ad: 'ad-7',
      install_time: '2026-03-01 10:00:00.000',
      attributed_touch_time: '2026-03-01 09:58:00.000',
      platform: 'ios',
    };
    const post = (headers: Record<string, string>) =>
      fetch(`${app.url}/ads/appsflyer/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(push),
      });
    expect((await post({})).status).toBe(401);
    expect((await post({ authorization: 'not-the-token-at-all' })).status).toBe(401);
    expect(await app.services.ads.attribution.current(user.userId)).toBeUndefined();
    const genuine = await post({ authorization: PUSH_TOKEN });
    expect(genuine.status).toBe(200);
    expect(await genuine.json()).toEqual({ outcome: 'recorded' });
    // The sign-up waited for the AppsFlyer id the push brought: sent now, once.
    const signUpToAf = await waitFor('the waiting sign-up to reach AppsFlyer', async () => {
      const [row] = await app.services.ads.deliveryLog.list(
        { userId: user.userId, destination: 'appsflyer' },
        1,
        undefined,
      );
      return row?.status === 'sent' ? row : undefined;
    });
    expect(requestsMentioning(af, signUpToAf.eventId).map((r) => r.body)).toEqual([
      expect.objectContaining({ eventName: 'af_complete_registration', appsflyer_id: push.appsflyer_id }),
    ]);

    // The app reports its conversion data later: kept as history; install time from the first report,
    // ad set, ad and click time from the push, which the SDK's data lacks.
    const report = await gql<{ reportAttribution: Record<string, unknown> }>(
      app.url,
      REPORT,
      {
        data: {
          af_status: 'Non-organic',
          media_source: 'snapchat_int',
          campaign: 'spring_launch_2',
          install_time: '2026-03-02 10:00:00.000',
        },
        afId: push.appsflyer_id,
        platform: 'IOS',
      },
      { token: user.accessToken },
    );
    expect(report.data?.reportAttribution).toEqual({
      mediaSource: 'snapchat_int',
      campaign: 'spring_launch_2',
      isOrganic: false,
      installTime: '2026-03-01T10:00:00.000Z',
    });
    const view = await gql<{ adAttribution: { current: Record<string, unknown>; history: unknown[] } }>(
      app.url,
      `query($id: ID!) { adAttribution(userId: $id) { current { source mediaSource campaign adset ad appsflyerId platform clickTime } history { source campaign } } }`,
      { id: user.userId },
      { token: admin.accessToken },
    );
    expect(view.data?.adAttribution.current).toEqual({
      source: 'client',
      mediaSource: 'snapchat_int',
      campaign: 'spring_launch_2',
      adset: 'adset-1',
      ad: 'ad-7',
      appsflyerId: push.appsflyer_id,
      platform: 'IOS',
      clickTime: '2026-03-01T09:58:00.000Z',
    });
    expect(view.data?.adAttribution.history).toEqual([
      { source: 'client', campaign: 'spring_launch_2' },
      { source: 'appsflyer_push', campaign: 'spring_launch' },
    ]);
    const filtered = await gql<{ adAttributedUsers: { items: Array<{ userId: string }> } }>(
      app.url,
      `query { adAttributedUsers(mediaSource: "snapchat_int", campaign: "spring_launch_2") { items { userId } } }`,
      {},
      { token: admin.accessToken },
    );
    expect(filtered.data?.adAttributedUsers.items.map((i) => i.userId)).toEqual([user.userId]);
    expect(
      errorCodes(
        await gql(
          app.url,
          `query { adAttributedUsers { items { userId } } }`,
          {},
          { token: user.accessToken },
        ),
      ),
    ).toEqual(['FORBIDDEN']);

    // With an AppsFlyer id, the purchase reaches AppsFlyer (af_purchase with revenue) and GA4.
    const { sku } = await createProduct(app, admin.accessToken, {
      sku: `coins_${randomUUID().slice(0, 8)}`,
      coins: 100,
      prices: [{ store: 'SANDBOX', country: '*', currency: 'EUR', amountMinor: 499 }],
    });
    await app.services.payments.sandboxPurchase(user.userId, sku, null);
    await delivered(user.userId, 4 + 5);
    const purchase = (await deliveriesOf(user.userId)).filter((d) => d.eventType === 'purchase_completed');
    expect(Object.fromEntries(purchase.map((d) => [d.destination, d.status]))).toEqual({
      snapchat: 'sent',
      appsflyer: 'sent',
      amplitude: 'sent',
      ga4: 'sent',
      sink: 'sent',
    });
    const afBody = af.requests.at(-1)?.body as Record<string, string>;
    expect(afBody).toMatchObject({
      appsflyer_id: push.appsflyer_id,
      eventName: 'af_purchase',
      eventCurrency: 'EUR',
    });
    expect(JSON.parse(afBody.eventValue ?? '{}')).toMatchObject({ af_revenue: 4.99 });

    const today = new Date();
    const from = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()));
    const daily = await gql<{ adDailyReport: Array<Record<string, unknown>> }>(
      app.url,
      `query($from: DateTime!, $to: DateTime!) { adDailyReport(from: $from, to: $to) { mediaSource campaign signUps purchases revenue { currency amountMinor } } }`,
      { from: from.toISOString(), to: new Date(from.getTime() + 86_400_000).toISOString() },
      { token: admin.accessToken },
    );
    expect(daily.data?.adDailyReport).toContainEqual({
      mediaSource: 'snapchat_int',
      campaign: 'spring_launch_2',
      signUps: 1,
      purchases: 1,
      revenue: [{ currency: 'EUR', amountMinor: '499' }],
    });
    const stats = await gql<{
      adDeliveryStats: Array<{ destination: string; sent: number; failed: number; failedAttempts: number }>;
    }>(
      app.url,
      `query { adDeliveryStats { destination sent failed failedAttempts } }`,
      {},
      { token: admin.accessToken },
    );
    expect(stats.data?.adDeliveryStats.find((s) => s.destination === 'snapchat')).toMatchObject({
      failed: 1,
      failedAttempts: 1,
    });
    const log = await gql<{
      adDeliveries: { items: Array<{ status: string; attempts: Array<{ httpStatus: number }> }> };
    }>(
      app.url,
      `query($id: ID) { adDeliveries(destination: "appsflyer", userId: $id) { items { status attempts { httpStatus } } } }`,
      { id: user.userId },
      { token: admin.accessToken },
    );
    expect(log.data?.adDeliveries.items[0]).toEqual({ status: 'SENT', attempts: [{ httpStatus: 200 }] });
  });

  it("exports the account's attribution and consent, and erases them when the account is deleted", async () => {
    const user = await signUp();
    await gql(
      app.url,
      REPORT,
      { data: { af_status: 'Organic' }, afId: 'af-erase-1', platform: 'ANDROID' },
      { token: user.accessToken },
    );
    await gql(app.url, CONSENT, { optedOut: false }, { token: user.accessToken });
    const exported = await gql<{
      exportMyData: { ads: { attribution: { mediaSource: string }; trackingConsent: { optedOut: boolean } } };
    }>(app.url, 'query { exportMyData }', {}, { token: user.accessToken });
    expect(exported.data?.exportMyData.ads).toMatchObject({
      attribution: { mediaSource: 'organic', isOrganic: true },
      trackingConsent: { optedOut: false },
    });
    const deleted = await gql(
      app.url,
      'mutation { deleteMyAccount(confirm: "DELETE") }',
      {},
      { token: user.accessToken },
    );
    expect(deleted.errors).toBeUndefined();
    await waitFor('the attribution to be erased', async () =>
      (await app.services.ads.attribution.current(user.userId)) === undefined ? true : undefined,
    );
    expect(await app.services.ads.attribution.history(user.userId)).toEqual([]);
  });
});
