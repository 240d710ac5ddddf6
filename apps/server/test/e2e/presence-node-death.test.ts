import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../database.ts';
import { gql, wsClient } from '../graphql-client.ts';
import { type ServerProcess, startServerProcess } from '../server-process.ts';

const SIGN_IN =
  'mutation($e: String!) { signInWithEmail(email: $e, password: "olo-demo-password") { accessToken } }';
const ME = '{ me { id } }';
const PRESENCE = 'query($ids: [ID!]!) { presence(userIds: $ids) { userId online onlineSince lastSeenAt } }';

type PresenceRow = { userId: string; online: boolean; onlineSince: string | null; lastSeenAt: string | null };

async function signIn(server: ServerProcess, email: string): Promise<string> {
  const response = await gql<{ signInWithEmail: { accessToken: string } }>(server.url, SIGN_IN, { e: email });
  const token = response.data?.signInWithEmail.accessToken;
  if (!token) throw new Error(`sign-in failed: ${JSON.stringify(response.errors)}`);
  return token;
}

async function presenceOf(server: ServerProcess, token: string, userId: string): Promise<PresenceRow> {
  const response = await gql<{ presence: PresenceRow[] }>(server.url, PRESENCE, { ids: [userId] }, { token });
  const row = response.data?.presence[0];
  if (!row) throw new Error(`presence failed: ${JSON.stringify(response.errors)}`);
  return row;
}

/** Polls `read` until `done` holds; bounded by attempts, never by asserting how long it took. */
async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  attempts = 600,
): Promise<T> {
  let value = await read();
  for (let i = 0; i < attempts && !done(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}

describe('presence when a node dies', () => {
  let database: TestDatabase;
  let nodeA: ServerProcess;
  let nodeB: ServerProcess;

  let shared: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase();
    // Small heartbeat and TTL so a dead node is noticed within seconds; the sweep runs every 5 s.
    shared = {
      DATABASE_URL: database.url,
      PUBLIC_URL: 'http://olo.cluster.test',
      PRESENCE_HEARTBEAT_SECONDS: '1',
      PRESENCE_TTL_SECONDS: '3',
    };
    nodeA = await startServerProcess({ env: shared });
    nodeB = await startServerProcess({ env: { ...shared, SEED_DEMO_DATA: 'false' } });
  });
  afterAll(async () => {
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await database?.drop();
  });

  it('a user whose only socket was on a SIGKILLed node goes offline, and user_went_offline is emitted', async () => {
    const userToken = await signIn(nodeB, 'user1@olo.local');
    const watcherToken = await signIn(nodeA, 'user2@olo.local');
    const me = await gql<{ me: { id: string } }>(nodeA.url, ME, {}, { token: userToken });
    const userId = me.data?.me.id;
    if (!userId) throw new Error(`me failed: ${JSON.stringify(me.errors)}`);
    expect((await presenceOf(nodeA, watcherToken, userId)).online).toBe(false);

    // A subscription keeps the socket on node B open (graphql-ws connects lazily, on the first one).
    const { client } = wsClient(`${nodeB.url.replace('http', 'ws')}/graphql`, {
      authorization: `Bearer ${userToken}`,
    });
    client.subscribe(
      { query: 'subscription { serverClock(intervalMs: 1000) }' },
      { next: () => {}, error: () => {}, complete: () => {} },
    );
    const online = await eventually(
      () => presenceOf(nodeA, watcherToken, userId),
      (p) => p.online,
    );
    expect(online.online).toBe(true);
    expect(online.onlineSince).not.toBeNull();

    // No graceful shutdown: node B cannot say goodbye, only its silence tells.
    const exit = await nodeB.stop('SIGKILL');
    expect(exit.signal).toBe('SIGKILL');

    const offline = await eventually(
      () => presenceOf(nodeA, watcherToken, userId),
      (p) => !p.online,
    );
    expect(offline.online).toBe(false);
    expect(offline.lastSeenAt).not.toBeNull();

    const events = await database.handle.db
      .selectFrom('event_log.events')
      .select(['type', 'payload'])
      .where('user_id', '=', userId)
      .where('type', 'in', ['user_came_online', 'user_went_offline'])
      .orderBy('occurred_at')
      .execute();
    expect(events.map((e) => e.type)).toEqual(['user_came_online', 'user_went_offline']);
    expect(events[1]?.payload).toMatchObject({ userId, reason: 'node_expired' });
    await client.dispose();
  });

  it('a node stopped gracefully (SIGTERM) takes its users offline itself, without waiting for the sweep', async () => {
    const nodeC = await startServerProcess({ env: { ...shared, SEED_DEMO_DATA: 'false' } });
    const userToken = await signIn(nodeC, 'streamer2@olo.local');
    const watcherToken = await signIn(nodeA, 'user2@olo.local');
    const me = await gql<{ me: { id: string } }>(nodeA.url, ME, {}, { token: userToken });
    const userId = me.data?.me.id;
    if (!userId) throw new Error(`me failed: ${JSON.stringify(me.errors)}`);
    const { client } = wsClient(`${nodeC.url.replace('http', 'ws')}/graphql`, {
      authorization: `Bearer ${userToken}`,
    });
    client.subscribe(
      { query: 'subscription { serverClock(intervalMs: 1000) }' },
      { next: () => {}, error: () => {}, complete: () => {} },
    );
    expect(
      (
        await eventually(
          () => presenceOf(nodeA, watcherToken, userId),
          (p) => p.online,
        )
      ).online,
    ).toBe(true);

    expect((await nodeC.stop('SIGTERM')).code).toBe(0);
    // Offline already when the process has exited: its shutdown recorded the close.
    expect((await presenceOf(nodeA, watcherToken, userId)).online).toBe(false);
    const offline = await database.handle.db
      .selectFrom('event_log.events')
      .select('payload')
      .where('user_id', '=', userId)
      .where('type', '=', 'user_went_offline')
      .execute();
    expect(offline.map((e) => e.payload)).toEqual([expect.objectContaining({ reason: 'disconnected' })]);
    await client.dispose();
  });
});
