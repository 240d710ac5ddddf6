import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/database.ts';
import { gql } from '../../../test/graphql-client.ts';
import { type ServerProcess, startServerProcess } from '../../../test/server-process.ts';
import {
  snapchatLoopback,
  type VendorLoopback,
} from '../../providers/analytics/analytics-loopback.test-support.ts';
import { hashEmail } from '../../providers/analytics/identifier-hashing.ts';
import { waitFor } from '../timetable/testing.ts';

const SIGN_UP = `mutation($email: String!, $password: String!) { signUpWithEmail(email: $email, password: $password) { userId } }`;

describe('Snapchat postbacks survive a server killed mid-delivery', () => {
  let database: TestDatabase;
  let snap: VendorLoopback;
  const servers: ServerProcess[] = [];
  const start = async () => {
    const server = await startServerProcess({
      env: {
        DATABASE_URL: database.url,
        SEED_DEMO_DATA: 'false',
        SNAPCHAT_APP_ID: 'snap-app',
        SNAPCHAT_ACCESS_TOKEN: 'snap-token',
        SNAPCHAT_CAPI_URL: snap.url,
        // The held request must still be in flight when the process is killed.
        ADS_HTTP_TIMEOUT_MS: '3000',
      },
    });
    servers.push(server);
    return server;
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    snap = await snapchatLoopback('snap-app', 'snap-token').start();
  });
  afterAll(async () => {
    for (const server of servers) await server.stop('SIGKILL');
    await snap?.close();
    await database?.drop();
  });

  it('a sign-up reaches the Snapchat endpoint once, hashed, even when the server dies while sending it', async () => {
    // Snapchat receives the first request and never answers it: the process dies with it in flight.
    snap.script('hold');
    const first = await start();
    const email = `crash-${randomUUID()}@example.com`;
    const signUp = await gql<{ signUpWithEmail: { userId: string } }>(first.url, SIGN_UP, {
      email,
      password: 'a-long-enough-password',
    });
    const userId = signUp.data?.signUpWithEmail.userId as string;
    expect(userId).toBeTruthy();
    await waitFor('the first send to reach Snapchat', () => snap.requests.length >= 1);
    await first.stop('SIGKILL');
    expect(snap.accepted.size).toBe(0);

    const db = database.handle.db;
    const before = await db.selectFrom('ads.deliveries').selectAll().where('user_id', '=', userId).execute();
    expect(before.map((d) => [d.destination, d.status])).toEqual([['snapchat', 'pending']]);

    // A new process takes over once the dead sender's lease runs out, and sends the same event again.
    await start();
    const delivery = await waitFor(
      'the delivery to be sent by the restarted server',
      async () => {
        const row = await db
          .selectFrom('ads.deliveries')
          .selectAll()
          .where('user_id', '=', userId)
          .executeTakeFirst();
        return row?.status === 'sent' ? row : undefined;
      },
      60_000,
    );
    const sent = snap.requests.flatMap((r) => (r.body as { data: Array<Record<string, unknown>> }).data);
    // Snapchat saw the event twice (once in flight when the process died) with one event_id: counted once.
    expect(sent).toHaveLength(2);
    expect(new Set(sent.map((e) => e.event_id))).toEqual(new Set([delivery.event_id]));
    expect([...snap.accepted.keys()]).toEqual([delivery.event_id]);
    expect(sent.every((e) => e.event_name === 'SIGN_UP')).toBe(true);
    expect(sent[0]?.user_data).toMatchObject({ em: [hashEmail(email)] });
    expect(JSON.stringify(sent)).not.toContain(email);
    const attempts = await db
      .selectFrom('ads.delivery_attempts')
      .selectAll()
      .where('delivery_id', '=', delivery.id)
      .execute();
    expect(attempts.map((a) => [a.outcome, a.http_status])).toEqual([['sent', 200]]);
    expect(delivery.attempts).toBe(2);
    // And nothing more is sent afterwards.
    const count = snap.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(snap.requests.length).toBe(count);
  });
});
