import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../database.ts';
import { gql, wsClient } from '../graphql-client.ts';
import { type ServerProcess, startServerProcess } from '../server-process.ts';

const SIGN_IN = `mutation($e: String!) {
  signInWithEmail(email: $e, password: "olo-demo-password") { accessToken userId }
}`;

async function signIn(server: ServerProcess, email: string) {
  const response = await gql<{ signInWithEmail: { accessToken: string; userId: string } }>(
    server.url,
    SIGN_IN,
    { e: email },
  );
  const result = response.data?.signInWithEmail;
  if (!result) throw new Error(`sign-in failed: ${JSON.stringify(response.errors)}`);
  return result;
}

describe('a ban on one node reaches every node (PostgreSQL pubsub)', () => {
  let database: TestDatabase;
  let nodeA: ServerProcess;
  let nodeB: ServerProcess;

  beforeAll(async () => {
    database = await createTestDatabase();
    const shared = { DATABASE_URL: database.url, PUBLIC_URL: 'http://olo.cluster.test' };
    nodeA = await startServerProcess({ env: shared });
    nodeB = await startServerProcess({ env: { ...shared, SEED_DEMO_DATA: 'false' } });
  });
  afterAll(async () => {
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await database?.drop();
  });

  it("closes the banned user's socket on node B with 4403 and refuses their token there", async () => {
    const user = await signIn(nodeB, 'user1@olo.local');
    const moderator = await signIn(nodeA, 'moderator@olo.local');
    // A first request on node B caches the account there: the ban must clear that cache.
    expect((await gql(nodeB.url, 'query { me { id } }', {}, { token: user.accessToken })).status).toBe(200);
    const { client, closes } = wsClient(`${nodeB.url.replace('http', 'ws')}/graphql`, {
      authorization: `Bearer ${user.accessToken}`,
    });
    let ticking: () => void = () => {};
    const firstTick = new Promise<void>((resolve) => {
      ticking = resolve;
    });
    const stream = new Promise<void>((resolve) => {
      client.subscribe(
        { query: 'subscription { serverClock(intervalMs: 100) }' },
        { next: () => ticking(), error: () => resolve(), complete: () => resolve() },
      );
    });
    await firstTick;
    const banned = await gql(
      nodeA.url,
      'mutation($id: ID!) { banUser(userId: $id, reason: "spam") { status } }',
      { id: user.userId },
      { token: moderator.accessToken },
    );
    expect(banned.data).toEqual({ banUser: { status: 'banned' } });
    await stream;
    expect(closes.at(-1)).toMatchObject({ code: 4403, reason: 'BANNED' });
    const me = await gql(nodeB.url, 'query { me { id } }', {}, { token: user.accessToken });
    expect(me.status).toBe(403);
    expect(me.errors?.[0]?.extensions).toMatchObject({ code: 'BANNED', banReason: 'spam' });
    await client.dispose();
  });
});
