import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../database.ts';
import { gql, wsClient } from '../graphql-client.ts';
import { startServerProcess } from '../server-process.ts';

const settledWithin = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([
    promise.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms)),
  ]);

describe('the server process', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => {
    await database?.drop();
  });

  it('stops at a bad environment variable with one line naming it', async () => {
    const server = await startServerProcess({
      env: { DATABASE_URL: database.url, PORT: '4000', LOGIN_THROTTLE_MAX_PER_IP: 'many' },
      waitForReady: false,
    });
    const exit = await server.exited;
    expect(exit.code).toBe(1);
    const lines = server.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^olo: Invalid configuration: LOGIN_THROTTLE_MAX_PER_IP: .*\(got "many"\)$/);
  });

  it('refuses to start when an applied migration was edited', async () => {
    // What the runner sees when a file changes after it was applied: its checksum no longer matches.
    await database.handle.db
      .updateTable('platform.schema_migrations')
      .set({ checksum: '0'.repeat(64) })
      .where('module', '=', 'user')
      .where('version', '=', 1)
      .execute();
    const server = await startServerProcess({ env: { DATABASE_URL: database.url }, waitForReady: false });
    const exit = await server.exited;
    expect(exit.code).toBe(1);
    expect(server.output()).toMatch(
      /olo: Migration user\/0001_accounts_and_sign_in\.sql was edited after it was applied .* forward-only/,
    );
  });

  it('shuts down gracefully: refuses new work, closes sockets with 1001, finishes the in-flight request', async () => {
    const server = await startServerProcess({ env: { DATABASE_URL: database.url, LOG_LEVEL: 'info' } });
    const signIn = await gql<{ signInWithEmail: { accessToken: string } }>(
      server.url,
      'mutation { signInWithEmail(email: "user1@olo.local", password: "olo-demo-password") { accessToken } }',
    );
    const token = signIn.data?.signInWithEmail.accessToken;
    expect(token).toBeDefined();
    const { client, closes } = wsClient(`${server.url.replace('http', 'ws')}/graphql`, {
      authorization: `Bearer ${token}`,
    });
    let ticking: () => void = () => {};
    const firstTick = new Promise<void>((resolve) => {
      ticking = resolve;
    });
    const wsDone = new Promise<void>((resolve) => {
      client.subscribe(
        { query: 'subscription { serverClock }' },
        { next: () => ticking(), error: () => resolve(), complete: () => resolve() },
      );
    });
    await firstTick;

    // Hold a row lock the sign-up must wait for, so the request is provably in flight at SIGTERM.
    const blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    await blocker.query('begin');
    const user = await blocker.query<{ id: string }>(`insert into "user".users default values returning id`);
    await blocker.query(
      `insert into "user".credentials (user_id, kind, identifier, password_hash) values ($1, 'email', 'slow@example.com', 'x')`,
      [user.rows[0]?.id],
    );
    const inFlight = fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'in-flight-1' },
      body: JSON.stringify({
        query:
          'mutation { signUpWithEmail(email: "slow@example.com", password: "patient password") { userId } }',
      }),
    });
    for (let i = 0; i < 400; i++) {
      const waiting = await blocker.query(
        `select 1 from pg_stat_activity where application_name = 'olo-server' and wait_event_type = 'Lock'`,
      );
      if (waiting.rowCount) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }

    server.process.kill('SIGTERM');
    await wsDone;
    expect(closes.at(-1)?.code).toBe(1001);
    const refused = await fetch(`${server.url}/healthz`).then(
      (r) => r.status,
      () => 'connection refused',
    );
    expect([503, 'connection refused']).toContain(refused);
    expect(await settledWithin(server.exited, 300)).toBe(false);

    await blocker.query('rollback');
    await blocker.end();
    const response = await inFlight;
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: { signUpWithEmail: { userId: string } } | null };
    expect(body.data?.signUpWithEmail.userId).toMatch(/^[0-9a-f-]{36}$/);
    const exit = await server.exited;
    expect(exit, server.output().slice(-3000)).toEqual({ code: 0, signal: null });

    // Every log line about a request carries its id.
    const requestLines = server
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{') && line.includes('"req'))
      .map((line) => JSON.parse(line) as { reqId?: string; req?: { url?: string } });
    expect(requestLines.length).toBeGreaterThan(0);
    expect(requestLines.every((line) => typeof line.reqId === 'string')).toBe(true);
    expect(requestLines.some((line) => line.reqId === 'in-flight-1')).toBe(true);
    await client.dispose();
  });
});
