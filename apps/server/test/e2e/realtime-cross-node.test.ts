import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../database.ts';
import { gql, wsClient } from '../graphql-client.ts';
import { type ServerProcess, startServerProcess } from '../server-process.ts';

const redisUrl = process.env.TEST_REDIS_URL;
const SIGN_IN =
  'mutation($e: String!) { signInWithEmail(email: $e, password: "olo-demo-password") { accessToken } }';

async function signIn(server: ServerProcess, email: string): Promise<string> {
  const response = await gql<{ signInWithEmail: { accessToken: string } }>(server.url, SIGN_IN, { e: email });
  const token = response.data?.signInWithEmail.accessToken;
  if (!token) throw new Error(`sign-in failed: ${JSON.stringify(response.errors)}`);
  return token;
}

/** The first value of a subscription. */
function firstValue(client: ReturnType<typeof wsClient>['client'], query: string): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    const dispose = client.subscribe(
      { query },
      {
        next: (result) => {
          dispose();
          if (result.errors) reject(new Error(JSON.stringify(result.errors)));
          else resolve(result.data);
        },
        error: reject,
        complete: () => {},
      },
    );
  });
}

describe.each([
  ['postgres', true, {}],
  // Redis runs only where one is reachable: CI sets TEST_REDIS_URL when the machine has one.
  ['redis', redisUrl !== undefined, redisUrl ? { REDIS_URL: redisUrl } : {}],
] as Array<[string, boolean, Record<string, string>]>)(
  'subscriptions across two server processes (%s backend)',
  (_backend, available, extraEnv) => {
    let database: TestDatabase;
    let nodeA: ServerProcess;
    let nodeB: ServerProcess;

    beforeAll(async () => {
      if (!available) return;
      database = await createTestDatabase();
      // Nodes of one deployment share the public URL, which is also the issuer of their tokens.
      const shared = { DATABASE_URL: database.url, PUBLIC_URL: 'http://olo.cluster.test', ...extraEnv };
      nodeA = await startServerProcess({ env: shared });
      nodeB = await startServerProcess({ env: { ...shared, SEED_DEMO_DATA: 'false' } });
    });
    afterAll(async () => {
      await Promise.all([nodeA?.stop(), nodeB?.stop()]);
      await database?.drop();
    });

    it.skipIf(!available)('an announcement published on node A reaches a subscriber on node B', async () => {
      const userToken = await signIn(nodeB, 'user1@olo.local');
      const adminToken = await signIn(nodeA, 'admin@olo.local');
      const { client } = wsClient(`${nodeB.url.replace('http', 'ws')}/graphql`, {
        authorization: `Bearer ${userToken}`,
      });
      const received = firstValue(client, 'subscription { announcements { message } }');
      let arrived = false;
      void received.then(() => {
        arrived = true;
      });
      // Announcements are not replayed: publish until the subscriber (registered asynchronously) has one.
      for (let attempt = 0; attempt < 100 && !arrived; attempt++) {
        const published = await gql(
          nodeA.url,
          'mutation { publishAnnouncement(message: "maintenance at noon") { id } }',
          {},
          { token: adminToken },
        );
        expect(published.errors).toBeUndefined();
        await Promise.race([received, new Promise((resolve) => setTimeout(resolve, 100))]);
      }
      expect(await received).toEqual({ announcements: { message: 'maintenance at noon' } });
      await client.dispose();
    });

    it.skipIf(!available)(
      "a sign-in committed on node A reaches the account's subscription on node B",
      async () => {
        const first = await signIn(nodeB, 'streamer1@olo.local');
        const { client } = wsClient(`${nodeB.url.replace('http', 'ws')}/graphql`, {
          authorization: `Bearer ${first}`,
        });
        const received = firstValue(client, 'subscription { accountEvents { type payload } }');
        let arrived = false;
        void received.then(() => {
          arrived = true;
        });
        // The subscription registers asynchronously and realtime does not replay: sign in until it hears one.
        for (let attempt = 0; attempt < 50 && !arrived; attempt++) {
          await signIn(nodeA, 'streamer1@olo.local');
          await Promise.race([received, new Promise((resolve) => setTimeout(resolve, 200))]);
        }
        const event = (await received) as { accountEvents: { type: string; payload: { sessionId: string } } };
        expect(event.accountEvents.type).toBe('user_signed_in');
        expect(event.accountEvents.payload.sessionId).toMatch(/^[0-9a-f-]{36}$/);
        await client.dispose();
      },
    );

    it.skipIf(!available)(
      "signing out on node A closes the session's socket on node B with 4401",
      async () => {
        const token = await signIn(nodeA, 'user2@olo.local');
        const { client, closes } = wsClient(`${nodeB.url.replace('http', 'ws')}/graphql`, {
          authorization: `Bearer ${token}`,
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
        const out = await gql(nodeA.url, 'mutation { signOut(allDevices: true) }', {}, { token });
        expect(out.data).toEqual({ signOut: 1 });
        await stream;
        expect(closes.at(-1)).toMatchObject({ code: 4401, reason: 'Session signed out' });
        await client.dispose();
      },
    );
  },
);
