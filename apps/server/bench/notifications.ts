/**
 * `node apps/server/bench/notifications.ts`: fan-out of one admin broadcast to BENCH_NOTIFY_USERS
 * (default 10,000) accounts. A fresh PostgreSQL, the real server as its own process, FCM pointed at
 * a loopback FCM server in this process. Two measurements:
 *  1. in-app: every account online on its own WebSocket subscribed to `notifications` and
 *     acknowledging each one over the same socket; time from the broadcast mutation to the last
 *     socket's receipt;
 *  2. push: every account offline with one FCM token; time from the broadcast to the last FCM request,
 *     and pushes per second between the first and the last.
 * Prints a Markdown section for docs/benchmarks.md.
 */
import os from 'node:os';
import { sql } from 'kysely';
import WebSocket from 'ws';
import { buildApp } from '../src/app.ts';
import { domainMigrations } from '../src/domains/registry.ts';
import { systemClock } from '../src/platform/clock.ts';
import { createDatabase } from '../src/platform/db/database.ts';
import { platformMigrations, readMigrations } from '../src/platform/db/migrator.ts';
import { withTransaction } from '../src/platform/db/transaction.ts';
import { googleServiceAccount, startFcmLoopback } from '../src/providers/push/push-loopback.test-support.ts';
import { testConfig } from '../test/app.ts';
import { startServerProcess } from '../test/server-process.ts';
import { startBenchDatabase } from './bench-database.ts';
import { cleanupStack, inParallel, integerFromEnv } from './bench-support.ts';
import { graphql } from './graphql-client.ts';

const progress = (message: string) => process.stderr.write(`bench:notifications: ${message}\n`);
const ISSUER = 'http://olo.bench';
const CONNECT_BATCH = 200;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const { cleanups, cleanUp } = cleanupStack();

type Client = { socket: WebSocket; received: Map<string, number> };

async function main(): Promise<number> {
  const users = integerFromEnv('BENCH_NOTIFY_USERS', 10_000, 1);
  const jobsConcurrency = integerFromEnv('BENCH_NOTIFY_JOBS_CONCURRENCY', 10, 1);
  try {
    progress('starting PostgreSQL and the loopback FCM server');
    const database = await startBenchDatabase(process.env.BENCH_DATABASE_URL || undefined);
    cleanups.push(database.stop);
    const account = googleServiceAccount();
    const fcm = await startFcmLoopback(account);
    cleanups.push(fcm.close);
    const server = await startServerProcess({
      env: {
        DATABASE_URL: database.url,
        PUBLIC_URL: ISSUER,
        SEED_DEMO_DATA: 'false',
        LOG_LEVEL: 'warn',
        DATABASE_POOL_MAX: '20',
        JOBS_CONCURRENCY: String(jobsConcurrency),
        RATE_LIMIT_PER_IP_PER_MINUTE: '1000000000',
        RATE_LIMIT_PER_USER_PER_MINUTE: '1000000000',
        WS_MAX_CONNECTIONS_PER_USER: '100000',
        WS_MAX_CONNECTIONS_PER_IP: '100000',
        FCM_PROJECT_ID: 'olo-bench',
        FCM_SERVICE_ACCOUNT_JSON: JSON.stringify({ ...JSON.parse(account.json), token_uri: fcm.tokenUrl }),
        FCM_API_URL: fcm.url,
      },
      readyTimeoutMs: 120_000,
    });
    cleanups.push(() => server.stop('SIGTERM', 15_000));
    progress(`server ready (pid ${server.process.pid})`);

    const handle = createDatabase({ url: database.url, poolMax: 20 });
    const driver = await buildApp({
      config: testConfig({ PUBLIC_URL: ISSUER }),
      database: handle,
      migrations: await readMigrations([platformMigrations, ...domainMigrations]),
      clock: systemClock,
    });
    cleanups.push(driver.shutdown);
    const { services } = driver;
    await services.signingKeys.ensureSigningKey(30);

    progress(`creating ${users} accounts, sessions and FCM tokens`);
    const tokens: Array<{ userId: string; accessToken: string }> = [];
    await inParallel(
      Array.from({ length: users }, (_, i) => i),
      20,
      async (i) => {
        const user = await services.accounts.createOloAccount(['user']);
        const session = await withTransaction(handle.db, (tx) =>
          services.sessions.open(tx, user, { deviceName: 'bench', userAgent: 'bench', ip: '127.0.0.1' }),
        );
        await services.pushTokens.register({
          userId: user.id,
          sessionId: null,
          platform: 'android',
          kind: 'fcm',
          token: `bench-fcm-${i}`,
        });
        tokens.push({ userId: user.id, accessToken: session.accessToken });
      },
    );
    const admin = await services.accounts.createOloAccount(['admin']);
    const adminToken = (
      await withTransaction(handle.db, (tx) =>
        services.sessions.open(tx, admin, { deviceName: 'bench', userAgent: 'bench', ip: '127.0.0.1' }),
      )
    ).accessToken;
    const audience = { kind: 'ROLE', role: 'user' };
    const broadcast = async (title: string) => {
      const started = performance.now();
      const answered = graphql(
        server.url,
        'mutation($a: BroadcastAudience!, $t: String!) { broadcastNotification(audience: $a, title: $t, body: "bench") { id recipients } }',
        { token: adminToken, variables: { a: audience, t: title } },
      );
      await answered;
      return { started, answeredMs: performance.now() - started };
    };

    progress(`opening ${users} sockets, one per account, subscribed to notifications`);
    const wsUrl = `${server.url.replace('http', 'ws')}/graphql`;
    const clients: Client[] = [];
    for (let start = 0; start < tokens.length; start += CONNECT_BATCH) {
      const batch = await Promise.all(
        tokens.slice(start, start + CONNECT_BATCH).map(async ({ accessToken }) => {
          const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
          await new Promise<void>((resolve, reject) => {
            socket.once('open', () => resolve());
            socket.once('error', reject);
          });
          const acked = new Promise<void>((resolve, reject) => {
            socket.once('message', (data: Buffer) =>
              JSON.parse(data.toString()).type === 'connection_ack'
                ? resolve()
                : reject(new Error(data.toString())),
            );
          });
          socket.send(
            JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${accessToken}` } }),
          );
          await acked;
          const client: Client = { socket, received: new Map() };
          let ackId = 0;
          socket.on('message', (data: Buffer) => {
            const message = JSON.parse(data.toString()) as {
              id?: string;
              type: string;
              payload?: { data?: { notifications?: { id: string; title: string } } };
            };
            const n = message.payload?.data?.notifications;
            if (message.type !== 'next' || message.id !== 'n' || !n) return;
            client.received.set(n.title, performance.now());
            // The acknowledgement goes over the same socket, as the app does.
            socket.send(
              JSON.stringify({
                id: `ack-${ackId++}`,
                type: 'subscribe',
                payload: {
                  query: 'mutation($id: ID!) { acknowledgeNotification(id: $id) { id } }',
                  variables: { id: n.id },
                },
              }),
            );
          });
          socket.send(
            JSON.stringify({
              id: 'n',
              type: 'subscribe',
              payload: { query: 'subscription { notifications { id title } }' },
            }),
          );
          return client;
        }),
      );
      clients.push(...batch);
    }
    const onlineCount = async () =>
      Number(
        (
          await sql<{ n: string }>`select count(*)::text as n from presence.status where online`.execute(
            handle.db,
          )
        ).rows[0]?.n ?? 0,
      );
    await waitUntil('every account to be online', async () => (await onlineCount()) >= users, 120_000);

    // Warm-up round: subscriptions register asynchronously; repeat until every socket got one.
    for (let round = 0; ; round++) {
      const title = `warm-up ${round}`;
      await broadcast(title);
      const ok = await waitUntil(
        'the warm-up',
        async () => clients.every((c) => c.received.has(title)),
        30_000,
      )
        .then(() => true)
        .catch(() => false);
      if (ok) break;
      const got = clients.filter((c) => c.received.has(title)).length;
      const states = await sql<{ status: string; n: string }>`
        select status, count(*)::text as n from notification.notifications where title = ${title} group by status`.execute(
        handle.db,
      );
      progress(`warm-up ${round}: ${got} of ${users} sockets received it; ${JSON.stringify(states.rows)}`);
      if (round >= 3) throw new Error('sockets did not all receive the warm-up broadcast');
    }
    await sleep(2_000);

    progress('measuring the in-app fan-out');
    const pushesBefore = fcm.messages.length;
    const inApp = await broadcast('measured');
    await waitUntil(
      'every in-app delivery',
      async () => clients.every((c) => c.received.has('measured')),
      120_000,
    );
    const arrivals = clients
      .map((c) => (c.received.get('measured') ?? 0) - inApp.started)
      .sort((a, b) => a - b);
    const acknowledgedAll = async () =>
      Number(
        (
          await sql<{ n: string }>`
            select count(*)::text as n from notification.notifications
            where title = 'measured' and acknowledged_at is not null`.execute(handle.db)
        ).rows[0]?.n ?? 0,
      ) >= users;
    await waitUntil('every acknowledgement', acknowledgedAll, 120_000);
    // Past the time-out (15 s by default for admin_broadcast): acknowledged notifications get no push.
    await sleep(17_000);
    const pushesAfterAck = fcm.messages.length - pushesBefore;

    progress('closing the sockets; measuring the push fan-out to offline accounts');
    for (const c of clients) c.socket.close();
    await waitUntil('every account to be offline', async () => (await onlineCount()) === 0, 120_000);
    const firstPush = fcm.messages.length;
    const push = await broadcast('offline');
    await waitUntil('every push', async () => fcm.messages.length - firstPush >= users, 600_000);
    await sleep(50);
    const times = fcm.messages.slice(firstPush, firstPush + users).map((m) => m.receivedAt);
    const lastPushMs = (times.at(-1) ?? 0) - push.started;
    const spanMs = (times.at(-1) ?? 0) - (times[0] ?? 0);
    const p = (q: number) =>
      arrivals[Math.min(arrivals.length - 1, Math.ceil(q * arrivals.length) - 1)] ?? Number.NaN;
    const report = [
      `### Notifications: one admin broadcast to ${users.toLocaleString('en')} accounts`,
      '',
      `${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}; `,
      `one server process (JOBS_CONCURRENCY=${jobsConcurrency}, DATABASE_POOL_MAX=20), PostgreSQL on the same machine; FCM is a loopback HTTP server in the benchmark process (real OAuth exchange, one request per device).`,
      '',
      '| measurement | value |',
      '| --- | --- |',
      `| in-app: broadcast mutation → last socket received (${users} online accounts, each its own socket) | ${(arrivals.at(-1) ?? 0).toFixed(0)} ms |`,
      `| in-app: the broadcast mutation itself (creates ${users} notifications and their delivery jobs) | ${inApp.answeredMs.toFixed(0)} ms |`,
      `| in-app: first / p50 / p99 arrival | ${(arrivals[0] ?? 0).toFixed(0)} / ${p(0.5).toFixed(0)} / ${p(0.99).toFixed(0)} ms |`,
      `| in-app: pushes sent after every account acknowledged (expected 0) | ${pushesAfterAck} |`,
      `| push: broadcast mutation → last FCM request (${users} offline accounts, one FCM token each) | ${lastPushMs.toFixed(0)} ms |`,
      `| push: throughput, first to last FCM request | ${((users / spanMs) * 1000).toFixed(0)} pushes/s |`,
      '',
      'Reproduce: `node apps/server/bench/notifications.ts` (BENCH_NOTIFY_USERS, BENCH_NOTIFY_JOBS_CONCURRENCY, BENCH_DATABASE_URL).',
    ].join('\n');
    process.stdout.write(`${report}\n`);
    return pushesAfterAck === 0 ? 0 : 1;
  } finally {
    await cleanUp();
  }
}

process.once('SIGINT', () => {
  void cleanUp().finally(() => process.exit(130));
});
process.exitCode = await main();
