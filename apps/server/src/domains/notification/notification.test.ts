import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql, wsClient } from '../../../test/graphql-client.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { apnsKey, startApnsLoopback } from '../../providers/push/push-loopback.test-support.ts';
import { waitFor } from '../timetable/testing.ts';
import type { NotifyInput } from './notification.service.ts';

const system = { principal: null, requestId: 'notification-test' };

describe('notifications: in-app with acknowledgement, push fallback', () => {
  const key = apnsKey();
  let apns: Awaited<ReturnType<typeof startApnsLoopback>>;
  let app: TestApp;
  const sockets: Array<ReturnType<typeof wsClient>> = [];

  const notify = (input: NotifyInput) =>
    withTransaction(app.database.handle.db, (tx) => app.services.notifications.service.notify(tx, input));
  const gift = (userId: string, coins = '50') =>
    notify({ userId, kind: 'gift_received', variables: { coins }, data: { giftId: 'g' } });
  const status = async (id: string) => (await app.services.notifications.service.get(id)).status;
  const outcomes = async (id: string) =>
    (await app.services.notifications.service.attempts(id)).map((a) => a.outcome);
  const outbox = async (notificationId: string) =>
    (await app.services.notifications.service.outbox({ notificationId })).items;
  const pushJobs = async (id: string) =>
    (
      await sql<{
        n: string;
      }>`select count(*)::text as n from graphile_worker.jobs where key = ${`notification:push:${id}`}`.execute(
        app.database.handle.db,
      )
    ).rows[0]?.n;
  const registerToken = (userId: string, kind: 'fcm' | 'apns' | 'apns_voip' | 'webpush', token: string) =>
    app.services.pushTokens.register({
      userId,
      sessionId: null,
      platform: kind.startsWith('apns') ? 'ios' : kind === 'webpush' ? 'web' : 'android',
      kind,
      token,
    });

  /** A signed-in client subscribed to `notifications`; acknowledges each one when `ack` is set. */
  const online = async (ack: boolean) => {
    const user = await app.signIn(['user']);
    const socket = wsClient(app.wsUrl, { authorization: `Bearer ${user.accessToken}` });
    sockets.push(socket);
    const received: Array<{ id: string; kind: string; title: string }> = [];
    socket.client.subscribe(
      { query: 'subscription { notifications { id kind title body data } }' },
      {
        next: (value) => {
          const n = (value.data as { notifications: { id: string; kind: string; title: string } })
            .notifications;
          received.push(n);
          if (ack) {
            void gql(
              app.url,
              'mutation($id: ID!) { acknowledgeNotification(id: $id) { id acknowledgedAt } }',
              { id: n.id },
              { token: user.accessToken },
            );
          }
        },
        error: () => {},
        complete: () => {},
      },
    );
    await waitFor('the client to be online', () => app.services.presence.isOnline(user.userId));
    // The subscription is open once a probe notification arrives (presence alone says the socket is).
    for (let i = 0; received.length === 0; i++) {
      await notify({ userId: user.userId, kind: 'favourite_online', variables: { name: `probe ${i}` } });
      await waitFor('the probe', () => received.length > 0 || i % 20 === 19, 5000).catch(() => {});
    }
    received.length = 0;
    return { user, received };
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
    // Short time-outs so the tests wait a second, not the catalogue's ten.
    await app.services.settings.set(
      system,
      'notification.ack_timeout_seconds',
      { gift_received: 1, admin_broadcast: 1 },
      'tests',
    );
    await app.services.jobs.start();
  });
  afterAll(async () => {
    for (const socket of sockets) await socket.client.dispose();
    await app?.close();
    await apns?.close();
  });

  it('an online client that acknowledges gets no push', async () => {
    const { user, received } = await online(true);
    await registerToken(user.userId, 'fcm', `fcm-acker-${user.userId}`);
    const n = await gift(user.userId);
    if (!n) throw new Error('not created');
    await waitFor('the acknowledgement', async () => (await status(n.id)) === 'acknowledged');
    expect(received.map((r) => r.id)).toEqual([n.id]);
    // The time-out job went with the acknowledgement; past the time-out still nothing was pushed.
    expect(await pushJobs(n.id)).toBe('0');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await status(n.id)).toBe('acknowledged');
    expect(await outbox(n.id)).toEqual([]);
    expect(await outcomes(n.id)).toEqual(['in_app_sent', 'acknowledged']);
  });

  it('an online client that does not acknowledge gets exactly one push after the time-out', async () => {
    const { user, received } = await online(false);
    await registerToken(user.userId, 'fcm', `fcm-silent-${user.userId}`);
    const n = await gift(user.userId);
    if (!n) throw new Error('not created');
    await waitFor('the push', async () => (await status(n.id)) === 'pushed');
    expect(received.map((r) => r.id)).toEqual([n.id]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const pushed = await outbox(n.id);
    expect(pushed).toHaveLength(1);
    expect(pushed[0]).toMatchObject({
      tokenKind: 'fcm',
      payload: { kind: 'gift_received', body: 'A gift worth 50 coins' },
    });
    expect(await outcomes(n.id)).toEqual(['in_app_sent', 'push_sent']);
    // A late acknowledgement is recorded and changes nothing else.
    await app.services.notifications.service.acknowledge(user.userId, n.id);
    expect(await status(n.id)).toBe('pushed');
  });

  it('an offline account gets the push at once, to each of its devices', async () => {
    const user = await app.signIn(['user']);
    await registerToken(user.userId, 'fcm', `fcm-offline-${user.userId}`);
    await registerToken(
      user.userId,
      'webpush',
      JSON.stringify({ endpoint: 'https://push.example/x', keys: { p256dh: 'a', auth: 'b' } }),
    );
    const n = await gift(user.userId);
    if (!n) throw new Error('not created');
    await waitFor('the push', async () => (await status(n.id)) === 'pushed');
    expect((await outbox(n.id)).map((o) => o.tokenKind).sort()).toEqual(['fcm', 'webpush']);
    expect(await outcomes(n.id)).toEqual(['offline', 'push_sent', 'push_sent']);
  });

  it('an incoming call to an iPhone is a VoIP push with the call headers; the cancel is not', async () => {
    const user = await app.signIn(['user']);
    await registerToken(user.userId, 'apns_voip', `voip-${user.userId}`);
    await registerToken(user.userId, 'apns', `alert-${user.userId}`);
    const call = await notify({
      userId: user.userId,
      kind: 'incoming_call',
      variables: { callerName: 'Ana', callId: '5d2c9d52-8f7e-4d61-9d0b-8a0d3b2c1f00' },
      data: { callId: '5d2c9d52-8f7e-4d61-9d0b-8a0d3b2c1f00' },
    });
    if (!call) throw new Error('not created');
    await waitFor('the VoIP push', async () => (await status(call.id)) === 'pushed');
    const ring = await app.services.settings.get('call.ring_timeout_seconds');
    const callRequests = apns.requests.filter((r) => r.payload.notificationId === call.id);
    expect(callRequests).toHaveLength(1);
    expect(callRequests[0]?.token).toBe(`voip-${user.userId}`);
    expect(callRequests[0]?.headers).toMatchObject({
      'apns-push-type': 'voip',
      'apns-topic': 'com.olo.app.voip',
      'apns-priority': '10',
    });
    const expiration = Number(callRequests[0]?.headers['apns-expiration']);
    expect(expiration).toBeLessThanOrEqual(Math.floor(call.createdAt.getTime() / 1000) + ring);

    const cancel = await notify({
      userId: user.userId,
      kind: 'call_cancelled',
      variables: { callerName: 'Ana', callId: '5d2c9d52-8f7e-4d61-9d0b-8a0d3b2c1f00' },
    });
    if (!cancel) throw new Error('not created');
    await waitFor('the cancel push', async () => (await status(cancel.id)) === 'pushed');
    const cancelRequests = apns.requests.filter((r) => r.payload.notificationId === cancel.id);
    expect(
      cancelRequests.map((r) => [r.token, r.headers['apns-push-type'], r.headers['apns-topic']]),
    ).toEqual([[`alert-${user.userId}`, 'alert', 'com.olo.app']]);
  });

  it('a provider answering "invalid token" removes the token, and the attempt says why', async () => {
    const user = await app.signIn(['user']);
    await registerToken(user.userId, 'apns', `gone-${user.userId}`);
    const n = await gift(user.userId);
    if (!n) throw new Error('not created');
    await waitFor('the push attempt', async () => (await status(n.id)) === 'push_failed');
    expect(await app.services.pushTokens.list(user.userId)).toEqual([]);
    const attempts = await app.services.notifications.service.attempts(n.id);
    expect(attempts.map((a) => [a.outcome, a.provider, a.detail])).toEqual([
      ['offline', null, 'not online: push at once'],
      ['invalid_token', 'apns', 'Unregistered'],
    ]);
  });

  it('muted kinds are neither stored nor sent; kinds that cannot be muted are refused', async () => {
    const user = await app.signIn(['user']);
    await registerToken(user.userId, 'fcm', `fcm-muted-${user.userId}`);
    const set = await gql(
      app.url,
      'mutation($m: [String!]!) { setNotificationPreferences(locale: "es", mutedKinds: $m) { locale mutedKinds } }',
      { m: ['gift_received'] },
      { token: user.accessToken },
    );
    expect(set.data).toEqual({ setNotificationPreferences: { locale: 'es', mutedKinds: ['gift_received'] } });
    expect(await gift(user.userId)).toBeNull();
    const refused = await gql(
      app.url,
      'mutation { setNotificationPreferences(locale: "en", mutedKinds: ["incoming_call"]) { locale } }',
      {},
      { token: user.accessToken },
    );
    expect(errorCodes(refused)).toEqual(['BAD_USER_INPUT']);
    // Another kind still arrives, in the chosen language.
    const other = await notify({
      userId: user.userId,
      kind: 'missed_call',
      variables: { callerName: 'Ana', callId: 'c' },
    });
    expect(other?.title).toBe('Llamada perdida');
    const page = await gql<{ myNotifications: { items: Array<{ kind: string }> } }>(
      app.url,
      '{ myNotifications { items { kind } } }',
      {},
      { token: user.accessToken },
    );
    expect(page.data?.myNotifications.items.map((i) => i.kind)).toEqual(['missed_call']);
  });

  it('the notification centre pages, counts unread and marks read', async () => {
    const user = await app.signIn(['user']);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await gift(user.userId, String(i + 1)))?.id ?? '');
    const q = (query: string, variables: Record<string, unknown> = {}) =>
      gql(app.url, query, variables, { token: user.accessToken });
    const first = await q(
      '{ myNotifications(first: 3) { items { id body } nextCursor } myUnreadNotificationCount }',
    );
    const page1 = (first.data as { myNotifications: { items: Array<{ id: string }>; nextCursor: string } })
      .myNotifications;
    expect(page1.items.map((i) => i.id)).toEqual([ids[4], ids[3], ids[2]]);
    const second = await q(
      'query($a: String) { myNotifications(first: 3, after: $a) { items { id } nextCursor } }',
      { a: page1.nextCursor },
    );
    expect(second.data).toEqual({
      myNotifications: { items: [{ id: ids[1] }, { id: ids[0] }], nextCursor: null },
    });
    expect((first.data as { myUnreadNotificationCount: number }).myUnreadNotificationCount).toBe(5);
    expect(
      (await q('mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) }', { ids: [ids[0], ids[1]] }))
        .data,
    ).toEqual({ markNotificationsRead: 2 });
    expect((await q('{ myUnreadNotificationCount }')).data).toEqual({ myUnreadNotificationCount: 3 });
    expect((await q('mutation { markAllNotificationsRead }')).data).toEqual({ markAllNotificationsRead: 3 });
    expect((await q('{ myUnreadNotificationCount }')).data).toEqual({ myUnreadNotificationCount: 0 });
    // Another account's notification cannot be acknowledged.
    const stranger = await app.signIn(['user']);
    const denied = await gql(
      app.url,
      'mutation($id: ID!) { acknowledgeNotification(id: $id) { id } }',
      { id: ids[0] },
      { token: stranger.accessToken },
    );
    expect(errorCodes(denied)).toEqual(['NOT_FOUND']);
  });

  it('an admin previews and sends a broadcast; staff read the delivery log', async () => {
    const admin = await app.signIn(['admin']);
    const users = [await app.signIn(['user']), await app.signIn(['user'])];
    const audience = { kind: 'USERS', userIds: users.map((u) => u.userId) };
    const preview = await gql(
      app.url,
      'query($a: BroadcastAudience!) { previewNotificationBroadcast(audience: $a) }',
      { a: audience },
      { token: admin.accessToken },
    );
    expect(preview.data).toEqual({ previewNotificationBroadcast: 2 });
    const sent = await gql<{ broadcastNotification: { id: string; recipients: number } }>(
      app.url,
      'mutation($a: BroadcastAudience!) { broadcastNotification(audience: $a, title: "Hello", body: "News") { id recipients } }',
      { a: audience },
      { token: admin.accessToken },
    );
    expect(sent.data?.broadcastNotification.recipients).toBe(2);
    const user = users[0];
    if (!user) throw new Error('no user');
    const page = await gql<{
      myNotifications: { items: Array<{ id: string; kind: string; title: string; body: string }> };
    }>(app.url, '{ myNotifications { items { id kind title body } } }', {}, { token: user.accessToken });
    const item = page.data?.myNotifications.items[0];
    expect(item).toMatchObject({ kind: 'admin_broadcast', title: 'Hello', body: 'News' });
    await waitFor('the broadcast delivery', async () => (await status(item?.id ?? '')) === 'push_failed');
    const log = await gql(
      app.url,
      'query($id: ID!) { notificationDeliveryLog(id: $id) { status attempts { outcome detail } } }',
      { id: item?.id },
      { token: admin.accessToken },
    );
    expect(log.data).toEqual({
      notificationDeliveryLog: {
        status: 'push_failed',
        attempts: [
          { outcome: 'offline', detail: 'not online: push at once' },
          { outcome: 'push_failed', detail: 'no push devices' },
        ],
      },
    });
    const forbidden = await gql(
      app.url,
      'query($a: BroadcastAudience!) { previewNotificationBroadcast(audience: $a) }',
      { a: audience },
      { token: user.accessToken },
    );
    expect(errorCodes(forbidden)).toEqual(['FORBIDDEN']);
  });

  it('after a crash mid-send, a VoIP push is not sent again (at-most-once) and an FCM push is (at-least-once)', async () => {
    const user = await app.signIn(['user']);
    const n = await notify({
      userId: user.userId,
      kind: 'incoming_call',
      variables: { callerName: 'Bo', callId: 'c2' },
    });
    if (!n) throw new Error('not created');
    await waitFor('the first push run', async () => (await status(n.id)) === 'push_failed');
    const voip = await registerToken(user.userId, 'apns_voip', `voip-crash-${user.userId}`);
    const android = await registerToken(user.userId, 'fcm', `fcm-crash-${user.userId}`);
    // What a process killed between "sending" and the provider's answer leaves behind.
    const db = app.database.handle.db;
    await db
      .updateTable('notification.notifications')
      .set({ status: 'pushing' })
      .where('id', '=', n.id)
      .execute();
    await db
      .insertInto('notification.push_sends')
      .values(
        [voip, android].map((t) => ({
          notification_id: n.id,
          token_id: t.id,
          provider: t.kind === 'fcm' ? 'local' : 'apns',
          state: 'sending' as const,
          updated_at: new Date(),
        })),
      )
      .execute();
    await app.services.notifications.pushDelivery.push({ ids: [n.id], key: 'crash-test' });
    expect(apns.requests.filter((r) => r.payload.notificationId === n.id)).toEqual([]);
    expect((await outbox(n.id)).map((o) => o.tokenKind)).toEqual(['fcm']);
    const attempts = await app.services.notifications.service.attempts(n.id);
    expect(
      attempts
        .slice(-2)
        .map((a) => a.outcome)
        .sort(),
    ).toEqual(['push_sent', 'push_unknown']);
    expect(await status(n.id)).toBe('pushed');
    // Run again: every device has its final record, nothing goes out twice.
    await app.services.notifications.pushDelivery.push({ ids: [n.id], key: 'crash-test' });
    expect(await outbox(n.id)).toHaveLength(1);
  });

  it('a broadcast chunk reaches online accounts as one batch message; each takes only its own', async () => {
    const admin = await app.signIn(['admin']);
    const { user, received } = await online(true);
    const others = await Promise.all(Array.from({ length: 59 }, () => app.signIn(['user'])));
    const sent = await gql<{ broadcastNotification: { recipients: number } }>(
      app.url,
      'mutation($a: BroadcastAudience!) { broadcastNotification(audience: $a, title: "Batch", body: "Sixty") { recipients } }',
      { a: { kind: 'USERS', userIds: [user.userId, ...others.map((o) => o.userId)] } },
      { token: admin.accessToken },
    );
    expect(sent.data?.broadcastNotification.recipients).toBe(60);
    await waitFor('the batch delivery', () => received.some((r) => r.title === 'Batch'));
    const mine = (await app.services.notifications.service.list(user.userId)).items.find(
      (n) => n.title === 'Batch',
    );
    expect(received.filter((r) => r.kind === 'admin_broadcast').map((r) => r.id)).toEqual([mine?.id]);
    await waitFor('the acknowledgement', async () => (await status(mine?.id ?? '')) === 'acknowledged');
  });
});
