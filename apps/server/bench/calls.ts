/**
 * `node apps/server/bench/calls.ts`: call set-up latency. A fresh PostgreSQL and the real server as
 * its own process. BENCH_CALLS streamers each hold a `myCallUpdates` subscription over WebSocket
 * (which also makes them online) and are available; as many users, each with coins, call one
 * streamer each, all at once (`requestCall` over HTTP). Measured per call: from sending the request
 * to the callee's subscription receiving the ring. Prints a Markdown report.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import WebSocket from 'ws';
import { buildApp } from '../src/app.ts';
import { accounts } from '../src/domains/balance/balance.accounts.ts';
import { domainMigrations } from '../src/domains/registry.ts';
import { systemClock } from '../src/platform/clock.ts';
import { createDatabase } from '../src/platform/db/database.ts';
import { platformMigrations, readMigrations } from '../src/platform/db/migrator.ts';
import { testConfig } from '../test/app.ts';
import { startServerProcess } from '../test/server-process.ts';
import { describeDatabase, startBenchDatabase } from './bench-database.ts';
import { cleanupStack, inParallel, integerFromEnv, percentile } from './bench-support.ts';
import { graphql } from './graphql-client.ts';

const progress = (message: string) => process.stderr.write(`bench:calls: ${message}\n`);

const SUBSCRIPTION = 'subscription { myCallUpdates { call { id state } } }';
const REQUEST = 'mutation ($calleeId: ID!) { requestCall(calleeId: $calleeId) { id state } }';

/** A graphql-transport-ws subscription; `onRing` fires on the first REQUESTED call it sees. */
function subscribe(wsUrl: string, token: string, onRing: (at: number) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { token } })));
    socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as { type: string; payload?: unknown };
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION } }));
        resolve(socket);
      } else if (message.type === 'next') {
        const state = (message.payload as { data?: { myCallUpdates?: { call?: { state?: string } } } }).data
          ?.myCallUpdates?.call?.state;
        if (state === 'REQUESTED') onRing(performance.now());
      } else if (message.type === 'error') {
        reject(new Error(`subscription refused: ${JSON.stringify(message.payload)}`));
      }
    });
    socket.on('error', reject);
  });
}

const { cleanups, cleanUp } = cleanupStack();

async function main(): Promise<number> {
  const calls = integerFromEnv('BENCH_CALLS', 500, 1);
  const signingSecret = randomBytes(32).toString('base64url');
  try {
    progress('starting PostgreSQL');
    const database = await startBenchDatabase(process.env.BENCH_DATABASE_URL || undefined);
    cleanups.push(database.stop);
    const server = await startServerProcess({
      env: {
        NODE_ENV: 'production',
        AUTH_SIGNING_KEY_SECRET: signingSecret,
        MEDIA_URL_SECRET: randomBytes(32).toString('base64url'),
        DATABASE_URL: database.url,
        SEED_DEMO_DATA: 'false',
        LOG_LEVEL: 'warn',
        DATABASE_POOL_MAX: String(integerFromEnv('BENCH_CALLS_POOL_MAX', 10, 1)),
        WS_MAX_CONNECTIONS_PER_IP: String(calls * 2),
        RATE_LIMIT_PER_IP_PER_MINUTE: String(calls * 10),
      },
      readyTimeoutMs: 120_000,
    });
    cleanups.push(() => server.stop('SIGTERM', 15_000));
    progress(`server ready (pid ${server.process.pid})`);

    // The server's own signing key and issuer: tokens made here are the server's tokens.
    const handle = createDatabase({ url: database.url, poolMax: 20 });
    const driver = await buildApp({
      config: testConfig({ PUBLIC_URL: server.url, AUTH_SIGNING_KEY_SECRET: signingSecret }),
      database: handle,
      migrations: await readMigrations([platformMigrations, ...domainMigrations]),
      clock: systemClock,
    });
    cleanups.push(driver.shutdown);
    const { services } = driver;
    const signIn = async (roles: Array<'user' | 'streamer'>) => {
      const account = await services.accounts.createOloAccount(roles);
      const tokens = await handle.db
        .transaction()
        .execute((tx) =>
          services.sessions.open(tx, account, { deviceName: 'bench', userAgent: 'bench', ip: '127.0.0.1' }),
        );
      return { id: account.id, token: tokens.accessToken };
    };

    progress(`creating ${calls} users (funded) and ${calls} streamers with open subscriptions`);
    const pairs: Array<{ user: { id: string; token: string }; streamer: { id: string; token: string } }> = [];
    const rings = new Map<string, number>();
    const sockets: WebSocket[] = [];
    cleanups.push(async () => {
      for (const socket of sockets) socket.terminate();
    });
    await inParallel(
      Array.from({ length: calls }, (_, i) => i),
      20,
      async () => {
        const [user, streamer] = [await signIn(['user']), await signIn(['streamer'])];
        await services.ledger.execute({
          idempotencyKey: `bench:fund:${user.id}`,
          kind: 'purchase',
          postings: [
            { account: accounts.storeClearing, amount: -10_000n },
            { account: accounts.walletPaid(user.id), amount: 10_000n },
          ],
        });
        sockets.push(
          await subscribe(`${server.url.replace('http', 'ws')}/graphql`, streamer.token, (at) => {
            if (!rings.has(streamer.id)) rings.set(streamer.id, at);
          }),
        );
        pairs.push({ user, streamer });
      },
    );
    // Online through their sockets (recorded by the server process), then available.
    for (const { streamer } of pairs) {
      while (!(await services.presence.isOnline(streamer.id))) await new Promise((r) => setTimeout(r, 20));
      await services.presence.setAvailability(streamer.id, 'available');
    }

    progress(`${calls} concurrent call requests`);
    const sent = new Map<string, number>();
    const failures: string[] = [];
    const started = performance.now();
    await Promise.all(
      pairs.map(async ({ user, streamer }) => {
        sent.set(streamer.id, performance.now());
        try {
          const data = await graphql(server.url, REQUEST, {
            token: user.token,
            variables: { calleeId: streamer.id },
          });
          const state = (data.requestCall as { state: string }).state;
          if (state !== 'REQUESTED') failures.push(state);
        } catch (error) {
          failures.push(error instanceof Error ? error.message.slice(0, 120) : String(error));
        }
      }),
    );
    const requestsDone = performance.now() - started;
    const waitUntil = performance.now() + 30_000;
    while (rings.size < calls - failures.length && performance.now() < waitUntil) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const latencies = [...rings.entries()]
      .map(([streamerId, at]) => at - (sent.get(streamerId) ?? at))
      .sort((a, b) => a - b);

    const ms = (value: number) => `${Math.round(value)} ms`;
    const cpus = os.cpus();
    const { version } = await describeDatabase(database.url);
    const report = [
      `### Call set-up latency (${new Date().toISOString().slice(0, 10)})`,
      '',
      `\`BENCH_CALLS=${calls} BENCH_CALLS_POOL_MAX=${integerFromEnv('BENCH_CALLS_POOL_MAX', 10, 1)} node apps/server/bench/calls.ts\``,
      '',
      `${calls} users call ${calls} streamers at the same moment (one request each, over HTTP); each streamer holds ` +
        'a `myCallUpdates` subscription on the one server process. Latency: request sent → the ring received on ' +
        "the callee's socket.",
      '',
      '| calls | rings received | failed requests | p50 | p90 | p99 | max | all requests answered in |',
      '| ----: | -------------: | --------------: | --: | --: | --: | --: | -----------------------: |',
      `| ${calls} | ${latencies.length} | ${failures.length} | ${ms(percentile(latencies, 50))} | ${ms(percentile(latencies, 90))} | ` +
        `${ms(percentile(latencies, 99))} | ${ms(latencies.at(-1) ?? Number.NaN)} | ${ms(requestsDone)} |`,
      '',
      `Machine: ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ` +
        `Node ${process.version}, ${version.split(' on ')[0]}.`,
      ...(failures.length > 0 ? ['', `Failures (first 5): ${failures.slice(0, 5).join('; ')}`] : []),
    ].join('\n');
    process.stdout.write(`${report}\n`);
    return failures.length === 0 && latencies.length === calls ? 0 : 1;
  } finally {
    await cleanUp();
  }
}

process.once('SIGINT', () => {
  void cleanUp().finally(() => process.exit(130));
});
process.exitCode = await main();
