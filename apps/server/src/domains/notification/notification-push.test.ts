import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { apnsKey, startApnsLoopback } from '../../providers/push/push-loopback.test-support.ts';
import { waitFor } from '../timetable/testing.ts';
import { deliverJobKey, JOB_PRIORITY, PUSH_JOB, pushJobKey } from './notification.service.ts';

const system = { principal: null, requestId: 'notification-push-test' };

describe('push delivery: ring time-out, transient failures, the last run, shutdown', () => {
  const key = apnsKey();
  let apns: Awaited<ReturnType<typeof startApnsLoopback>>;
  let app: TestApp;
  let closed = false;

  const status = async (id: string) => (await app.services.notifications.service.get(id)).status;
  const attempts = async (id: string) =>
    (await app.services.notifications.service.attempts(id)).map((a) => [a.outcome, a.detail]);
  const apnsRequests = (id: string) => apns.requests.filter((r) => r.payload.notificationId === id);
  const jobsWithKey = async (jobKey: string) =>
    (
      await sql<{
        n: string;
      }>`select count(*)::text as n from graphile_worker.jobs where key = ${jobKey}`.execute(
        app.database.handle.db,
      )
    ).rows[0]?.n;
  const sendRecords = (id: string) =>
    app.database.handle.db
      .selectFrom('notification.push_sends')
      .select(['provider', 'state', 'tries', 'detail'])
      .where('notification_id', '=', id)
      .execute();
  const offlineUser = async (tokens: Array<{ kind: 'apns' | 'apns_voip' | 'fcm'; token: string }>) => {
    const user = await app.signIn(['user']);
    for (const t of tokens) {
      await app.services.pushTokens.register({
        userId: user.userId,
        sessionId: null,
        platform: t.kind === 'fcm' ? 'android' : 'ios',
        kind: t.kind,
        token: `${t.token}-${user.userId}`,
      });
    }
    return user.userId;
  };
  const gift = async (userId: string) => {
    const n = await app.services.notifications.service.notifyNow(app.database.handle.db, {
      userId,
      kind: 'gift_received',
      variables: { coins: '10' },
    });
    if (!n) throw new Error('not created');
    return n;
  };

  beforeAll(async () => {
    apns = await startApnsLoopback({ teamId: 'TEAMOLO123', keyId: 'KEYOLO1234', publicKey: key.publicKey });
    app = await startTestApp({
      env: {
        APNS_URL: apns.url,
        APNS_TEAM_ID: 'TEAMOLO123',
        APNS_KEY_ID: 'KEYOLO1234',
        APNS_PRIVATE_KEY: key.privateKeyPem,
        APNS_BUNDLE_ID: 'com.olo.app',
        APNS_CA_CERT: apns.caPem,
      },
    });
    await app.services.jobs.start();
  });
  afterAll(async () => {
    if (!closed) await app?.close();
    await apns?.close();
  });

  it('caps an incoming call push at a lowered ring time-out, on iOS (VoIP) and Android alike', async () => {
    await app.services.settings.set(system, 'call.ring_timeout_seconds', 10, 'shorter rings');
    try {
      const userId = await offlineUser([
        { kind: 'apns_voip', token: 'voip' },
        { kind: 'fcm', token: 'fcm' },
      ]);
      const call = await app.services.notifications.service.notifyNow(app.database.handle.db, {
        userId,
        kind: 'incoming_call',
        variables: { callerName: 'Ana', callId: '0c6f3f0e-9a59-4f0b-a1a4-5b8f2d7e6c31' },
        data: { callId: '0c6f3f0e-9a59-4f0b-a1a4-5b8f2d7e6c31' },
      });
      if (!call) throw new Error('not created');
      await waitFor('the call push', async () => (await status(call.id)) === 'pushed');
      // The catalogue's 30 s is what is stored; the setting caps it when the push is made.
      const ringEnds = new Date(call.createdAt.getTime() + 10_000);
      expect(call.expiresAt > ringEnds).toBe(true);
      const voip = apnsRequests(call.id);
      expect(voip.map((r) => [r.headers['apns-push-type'], r.headers['apns-expiration']])).toEqual([
        ['voip', String(Math.floor(ringEnds.getTime() / 1000))],
      ]);
      const android = (await app.services.notifications.service.outbox({ notificationId: call.id })).items;
      expect(android.map((o) => [o.tokenKind, o.payload.expiresAt, o.payload.call])).toEqual([
        ['fcm', ringEnds.toISOString(), true],
      ]);
    } finally {
      await app.services.settings.set(system, 'call.ring_timeout_seconds', 30, 'back to the default');
    }
  });

  it('retries a device that answered 503 and sends to it exactly once', async () => {
    const userId = await offlineUser([{ kind: 'apns', token: 'flaky' }]);
    const n = await gift(userId);
    await waitFor('the push after the retry', async () => (await status(n.id)) === 'pushed');
    expect(await attempts(n.id)).toEqual([
      ['offline', 'not online: push at once'],
      ['push_retry', 'ServiceUnavailable'],
      ['push_sent', null],
    ]);
    // Two requests reached APNs: the refused one and the one it took. One device record, tried twice.
    expect(apnsRequests(n.id)).toHaveLength(2);
    expect(await sendRecords(n.id)).toEqual([{ provider: 'apns', state: 'sent', tries: 2, detail: null }]);
    // The job is done: nothing is left to run it a third time.
    expect(await jobsWithKey(pushJobKey(`${n.id}:offline`))).toBe('0');
  });

  it("ends the notification on the push job's last run, with the reason in its log", async () => {
    const userId = await offlineUser([{ kind: 'apns', token: 'busy' }]);
    // A push job allowed two runs instead of ten, through the real queue and handler.
    const key = 'last-run-test';
    const n = await withTransaction(app.database.handle.db, async (tx) => {
      const row = await app.services.notifications.service.notify(tx, {
        userId,
        kind: 'gift_received',
        variables: { coins: '10' },
      });
      if (!row) throw new Error('not created');
      await app.services.jobs.cancel(tx, deliverJobKey(row.id));
      await app.services.jobs.schedule(
        tx,
        PUSH_JOB,
        { ids: [row.id], key },
        { jobKey: pushJobKey(key), maxAttempts: 2, priority: JOB_PRIORITY },
      );
      return row;
    });
    await waitFor('the last run', async () => (await status(n.id)) === 'push_failed');
    expect(await attempts(n.id)).toEqual([
      ['push_retry', 'ServiceUnavailable'],
      ['push_failed', 'gave up after 2 attempts: ServiceUnavailable'],
    ]);
    expect(await sendRecords(n.id)).toEqual([
      { provider: 'apns', state: 'failed', tries: 2, detail: 'gave up after 2 attempts: ServiceUnavailable' },
    ]);
    expect(apnsRequests(n.id)).toHaveLength(2);
    // The last run completed the job rather than failing it: no job is left behind.
    expect(await jobsWithKey(pushJobKey(key))).toBe('0');
  });

  it("closes the providers' connections when the server shuts down", async () => {
    const userId = await offlineUser([{ kind: 'apns', token: 'alert' }]);
    const n = await gift(userId);
    await waitFor('the push', async () => (await status(n.id)) === 'pushed');
    expect(apns.openSessions()).toBe(1);
    closed = true;
    await app.close();
    await waitFor('the APNs connection to close', () => apns.openSessions() === 0);
  });
});
