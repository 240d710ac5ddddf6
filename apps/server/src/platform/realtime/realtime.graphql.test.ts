import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql, wsClient } from '../../../test/graphql-client.ts';
import { userSignedIn } from '../../domains/user/user.events.ts';
import { channels } from './pubsub.ts';

type Received = { data?: unknown; errors?: unknown };

/** Subscribes and collects results; `ready` resolves when a probe message published on the channel arrived. */
function collect(client: ReturnType<typeof wsClient>['client'], query: string) {
  const results: Received[] = [];
  let ended = false;
  client.subscribe(
    { query },
    {
      next: (value) => {
        results.push(value.errors ? { errors: value.errors } : { data: value.data });
      },
      error: (error) => {
        results.push({ errors: error });
        ended = true;
      },
      complete: () => {
        ended = true;
      },
    },
  );
  return { results, isEnded: () => ended };
}

async function until(condition: () => boolean, publish: () => Promise<void>): Promise<void> {
  for (let attempt = 0; attempt < 100 && !condition(); attempt++) {
    await publish();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('account events and announcements', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it("delivers the account's own channel to that account only", async () => {
    const alice = await app.signIn();
    const bob = await app.signIn();
    const aliceSocket = wsClient(app.wsUrl, { authorization: `Bearer ${alice.accessToken}` });
    const bobSocket = wsClient(app.wsUrl, { authorization: `Bearer ${bob.accessToken}` });
    const forAlice = collect(aliceSocket.client, 'subscription { accountEvents { type payload } }');
    const forBob = collect(bobSocket.client, 'subscription { accountEvents { type payload } }');
    const event = { type: 'probe', occurredAt: new Date().toISOString(), payload: { for: 'alice' } };
    await until(
      () => JSON.stringify(forAlice.results).includes('probe'),
      () => app.services.pubsub.publish(channels.user(alice.userId), event),
    );
    expect(forAlice.results).toContainEqual({
      data: { accountEvents: { type: 'probe', payload: { for: 'alice' } } },
    });
    // Bob may hear about his own sign-in, never about Alice's events.
    expect(JSON.stringify(forBob.results)).not.toContain('alice');
    await aliceSocket.client.dispose();
    await bobSocket.client.dispose();
  });

  it('forwards committed account events only, after commit', async () => {
    const dave = await app.signIn();
    const socket = wsClient(app.wsUrl, { authorization: `Bearer ${dave.accessToken}` });
    const stream = collect(socket.client, 'subscription { accountEvents { type payload } }');
    const emitSignIn = (sessionId: string, commit: boolean) =>
      app.database.handle.db
        .transaction()
        .execute(async (tx) => {
          await app.services.eventLog.emit(
            tx,
            userSignedIn.event({ userId: dave.userId, sessionId, deviceName: null }, { userId: dave.userId }),
          );
          if (!commit) throw new Error('roll back');
        })
        .catch(() => undefined);
    const rolledBack = '00000000-0000-4000-8000-000000000000';
    await emitSignIn(rolledBack, false);
    await until(
      () => stream.results.length > 0,
      () => emitSignIn(crypto.randomUUID(), true),
    );
    const delivered = JSON.stringify(stream.results);
    expect(delivered).toContain('user_signed_in');
    expect(delivered).not.toContain(rolledBack);
    await socket.client.dispose();
  });

  it('checks the session again when each event is delivered', async () => {
    const carol = await app.signIn();
    const socket = wsClient(app.wsUrl, { authorization: `Bearer ${carol.accessToken}` });
    const stream = collect(socket.client, 'subscription { accountEvents { type } }');
    const event = { type: 'probe', occurredAt: new Date().toISOString(), payload: {} };
    await until(
      () => stream.results.length > 0,
      () => app.services.pubsub.publish(channels.user(carol.userId), event),
    );
    // Revoked behind the server's back (no sign-out broadcast): the next delivery must notice.
    await app.database.handle.db
      .updateTable('user.sessions')
      .set({ revoked_at: new Date() })
      .where('id', '=', carol.sessionId)
      .execute();
    await new Promise((resolve) => setTimeout(resolve, 2_100)); // the session cache's lifetime
    // Carol's own sign-in event may arrive at any point before this; count only what comes after.
    const seenBefore = stream.results.length;
    await until(
      () => stream.isEnded() || stream.results.length > seenBefore,
      () => app.services.pubsub.publish(channels.user(carol.userId), event),
    );
    expect(JSON.stringify(stream.results.slice(seenBefore))).toContain('UNAUTHENTICATED');
    await socket.client.dispose();
  });

  it('lets admins publish announcements, which every signed-in subscriber receives', async () => {
    const admin = await app.signIn(['user', 'admin']);
    const user = await app.signIn();
    const socket = wsClient(app.wsUrl, { authorization: `Bearer ${user.accessToken}` });
    const stream = collect(socket.client, 'subscription { announcements { message } }');
    await until(
      () => stream.results.length > 0,
      async () => {
        const response = await gql(
          app.url,
          'mutation { publishAnnouncement(message: " hello ") { message } }',
          {},
          {
            token: admin.accessToken,
          },
        );
        expect(response.data).toEqual({ publishAnnouncement: { message: 'hello' } });
      },
    );
    expect(stream.results[0]).toEqual({ data: { announcements: { message: 'hello' } } });
    await socket.client.dispose();
  });

  it('refuses announcements from non-admins and empty ones', async () => {
    const user = await app.signIn();
    const admin = await app.signIn(['user', 'admin']);
    const asUser = await gql(
      app.url,
      'mutation { publishAnnouncement(message: "hi") { id } }',
      {},
      {
        token: user.accessToken,
      },
    );
    expect(errorCodes(asUser)).toEqual(['FORBIDDEN']);
    const empty = await gql(
      app.url,
      'mutation { publishAnnouncement(message: "   ") { id } }',
      {},
      {
        token: admin.accessToken,
      },
    );
    expect(empty.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'message' });
  });
});
