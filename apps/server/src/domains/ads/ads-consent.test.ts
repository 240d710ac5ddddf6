import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { gql } from '../../../test/graphql-client.ts';
import {
  snapchatLoopback,
  type VendorLoopback,
} from '../../providers/analytics/analytics-loopback.test-support.ts';
import { waitFor } from '../timetable/testing.ts';

const SIGN_UP = `mutation($email: String!, $password: String!) {
  signUpWithEmail(email: $email, password: $password) { userId accessToken }
}`;

// The job queue is not started here: deliveries wait until the test flushes them, so an opt-out can
// land between an event and its delivery.
describe('ads: consent is checked again when sending', () => {
  let app: TestApp;
  let snap: VendorLoopback;

  const signUp = async () => {
    const result = await gql<{ signUpWithEmail: { userId: string; accessToken: string } }>(app.url, SIGN_UP, {
      email: `c-${randomUUID()}@example.com`,
      password: 'a-long-enough-password',
    });
    return result.data?.signUpWithEmail as { userId: string; accessToken: string };
  };
  const pendingDelivery = (userId: string) =>
    waitFor('the sign-up delivery', async () => {
      const [row] = await app.services.ads.deliveryLog.list(
        { userId, destination: 'snapchat' },
        1,
        undefined,
      );
      return row;
    });

  beforeAll(async () => {
    snap = await snapchatLoopback('snap-app', 'snap-token').start();
    app = await startTestApp({
      env: { SNAPCHAT_APP_ID: 'snap-app', SNAPCHAT_ACCESS_TOKEN: 'snap-token', SNAPCHAT_CAPI_URL: snap.url },
    });
  });
  afterAll(async () => {
    await app?.close();
    await snap?.close();
  });

  it('does not send an event recorded before the user opted out', async () => {
    const user = await signUp();
    const recorded = await pendingDelivery(user.userId);
    expect(recorded.status).toBe('pending');
    const optOut = await gql(
      app.url,
      'mutation { setTrackingConsent(optedOut: true) { tracked } }',
      {},
      { token: user.accessToken },
    );
    expect(optOut.data).toEqual({ setTrackingConsent: { tracked: false } });

    const tracked = await signUp();
    await pendingDelivery(tracked.userId);
    await app.services.ads.deliveries.flushAll();

    const [skipped] = await app.services.ads.deliveryLog.list({ userId: user.userId }, 10, undefined);
    expect(skipped).toMatchObject({ status: 'skipped', lastError: 'opted_out' });
    expect(await app.services.ads.deliveryLog.attemptsOf([skipped?.id ?? 0n])).toEqual([
      expect.objectContaining({ outcome: 'skipped', httpStatus: null, response: 'opted_out' }),
    ]);
    expect(snap.requests.filter((r) => JSON.stringify(r.body).includes(recorded.eventId))).toEqual([]);
    // The other user's sign-up went out in the same flush.
    const [sent] = await app.services.ads.deliveryLog.list({ userId: tracked.userId }, 10, undefined);
    expect(sent?.status).toBe('sent');
    expect([...snap.accepted.keys()]).toEqual([sent?.eventId]);
  });

  it('answers 404 on the vendor push endpoints while their secrets are unset', async () => {
    for (const route of ['/ads/appsflyer/push', '/ads/apphud/webhook']) {
      const response = await fetch(`${app.url}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'anything-at-all-0123456789' },
        body: JSON.stringify({ event_name: 'install', customer_user_id: randomUUID() }),
      });
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    }
  });
});
