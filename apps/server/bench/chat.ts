/**
 * `node apps/server/bench/chat.ts`: chat messages per second and delivery latency. A fresh
 * PostgreSQL (BENCH_CHAT_PRELOAD background messages already stored) and the real server as its
 * own process. BENCH_CHAT_PAIRS user–streamer pairs each hold two WebSockets subscribed to
 * `chatUpdates` (one per side); in each scenario that many pairs talk at once over HTTP
 * (`sendChatMessage`), BENCH_CHAT_MESSAGES messages per pair, alternating sides, each side waiting
 * for its answer before the next. Measured per message: from sending the request to the recipient's
 * socket receiving it. Prints a Markdown report and writes bench/results/chat.md.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import WebSocket from 'ws';
import { buildApp } from '../src/app.ts';
import { domainMigrations } from '../src/domains/registry.ts';
import { systemClock } from '../src/platform/clock.ts';
import { createDatabase } from '../src/platform/db/database.ts';
import { platformMigrations, readMigrations } from '../src/platform/db/migrator.ts';
import { testConfig } from '../test/app.ts';
import { startServerProcess } from '../test/server-process.ts';
import { describeDatabase, startBenchDatabase } from './bench-database.ts';
import { cleanupStack, inParallel, integerFromEnv, percentile } from './bench-support.ts';
import { graphql } from './graphql-client.ts';

const progress = (message: string) => process.stderr.write(`bench:chat: ${message}\n`);
const RESULTS_FILE = path.join(import.meta.dirname, 'results', 'chat.md');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const SUBSCRIPTION = 'subscription { chatUpdates { type message { body recipientId } } }';
const SEND = `mutation ($recipientId: ID!, $body: String!, $clientId: String!) {
  sendChatMessage(recipientId: $recipientId, body: $body, clientId: $clientId) { replayed message { id } }
}`;

type Account = { id: string; token: string };
type Pair = { user: Account; streamer: Account };

/** A chatUpdates subscription; `onMessage` gets the body of every message addressed to `owner`. */
function subscribe(
  wsUrl: string,
  owner: Account,
  onMessage: (body: string, at: number) => void,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    socket.on('open', () =>
      socket.send(
        JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${owner.token}` } }),
      ),
    );
    socket.on('message', (raw) => {
      const at = performance.now();
      const message = JSON.parse(String(raw)) as { type: string; payload?: unknown };
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION } }));
        resolve(socket);
      } else if (message.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong' }));
      } else if (message.type === 'next') {
        const m = (
          message.payload as { data?: { chatUpdates?: { message?: { body: string; recipientId: string } } } }
        ).data?.chatUpdates?.message;
        if (m && m.recipientId === owner.id) onMessage(m.body, at);
      } else if (message.type === 'error') {
        reject(new Error(`subscription refused: ${JSON.stringify(message.payload)}`));
      }
    });
    socket.on('error', reject);
  });
}

const { cleanups, cleanUp } = cleanupStack();

async function main(): Promise<number> {
  const pairCount = integerFromEnv('BENCH_CHAT_PAIRS', 100, 1);
  const perPair = integerFromEnv('BENCH_CHAT_MESSAGES', 20, 1);
  const preload = integerFromEnv('BENCH_CHAT_PRELOAD', 200_000, 0);
  const poolMax = integerFromEnv('BENCH_CHAT_POOL_MAX', 10, 1);
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
        DATABASE_POOL_MAX: String(poolMax),
        WS_MAX_CONNECTIONS_PER_IP: String(pairCount * 4),
        RATE_LIMIT_PER_IP_PER_MINUTE: '1000000000',
        RATE_LIMIT_PER_USER_PER_MINUTE: '1000000000',
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
    const signIn = async (roles: Array<'user' | 'streamer' | 'admin'>): Promise<Account> => {
      const account = await services.accounts.createOloAccount(roles);
      const tokens = await handle.db
        .transaction()
        .execute((tx) =>
          services.sessions.open(tx, account, { deviceName: 'bench', userAgent: 'bench', ip: '127.0.0.1' }),
        );
      return { id: account.id, token: tokens.accessToken };
    };

    progress(`storing ${preload} background messages in ${Math.ceil(preload / 100)} conversations`);
    const conversations = Math.ceil(preload / 100);
    if (preload > 0) {
      await sql`insert into chat.conversations (user_low, user_high)
                select least(a, b), greatest(a, b)
                  from (select gen_random_uuid() as a, gen_random_uuid() as b from generate_series(1, ${conversations})) s`.execute(
        handle.db,
      );
      await sql`insert into chat.messages (conversation_id, sender_id, recipient_id, kind, body, created_at)
                select c.id,
                       case when g % 2 = 0 then c.user_low else c.user_high end,
                       case when g % 2 = 0 then c.user_high else c.user_low end,
                       'text', 'background message ' || g, now() - interval '2 days' + g * interval '1 second'
                  from chat.conversations c cross join generate_series(1, 100) g
                 limit ${preload}`.execute(handle.db);
      await sql`update chat.conversations c
                   set last_message_seq = m.seq
                  from (select conversation_id, max(seq) as seq from chat.messages group by conversation_id) m
                 where m.conversation_id = c.id`.execute(handle.db);
      await sql`analyze chat.messages`.execute(handle.db);
      await sql`analyze chat.conversations`.execute(handle.db);
    }

    // The measured senders send far more than a person would: lift the per-sender limit (the
    // limiter's count still runs on every send) over the server's own API, so its cache drops.
    const admin = await signIn(['admin']);
    await graphql(
      server.url,
      'mutation ($v: JSON!) { setSetting(key: "chat.rate_limit", value: $v, reason: "bench") { key } }',
      {
        token: admin.token,
        variables: { v: { messages: 10_000, windowSeconds: 10 } },
      },
    );

    progress(`creating ${pairCount} pairs, each side with its own chatUpdates socket`);
    const wsUrl = `${server.url.replace('http', 'ws')}/graphql`;
    const pairs: Pair[] = [];
    const received = new Map<string, number>();
    const sockets: WebSocket[] = [];
    cleanups.push(async () => {
      for (const socket of sockets) socket.terminate();
    });
    const onMessage = (body: string, at: number) => {
      if (!received.has(body)) received.set(body, at);
    };
    await inParallel(
      Array.from({ length: pairCount }, (_, i) => i),
      20,
      async () => {
        const pair = { user: await signIn(['user']), streamer: await signIn(['streamer']) };
        sockets.push(await subscribe(wsUrl, pair.user, onMessage));
        sockets.push(await subscribe(wsUrl, pair.streamer, onMessage));
        pairs.push(pair);
      },
    );

    const send = async (from: Account, to: Account, body: string) => {
      const data = await graphql(server.url, SEND, {
        token: from.token,
        variables: { recipientId: to.id, body, clientId: `c-${body.replaceAll(':', '-')}` },
      });
      if ((data.sendChatMessage as { replayed: boolean }).replayed) throw new Error(`${body} was replayed`);
    };

    // Subscriptions register after the ack: send each side a warm-up message, again for those that
    // missed theirs, until both sockets of every pair have received one (this also creates each
    // pair's conversation).
    progress('warming up');
    let pending = pairs.flatMap((p, i) => [
      { from: p.user, to: p.streamer, key: `${i}-s` },
      { from: p.streamer, to: p.user, key: `${i}-u` },
    ]);
    for (let round = 0; pending.length > 0; round++) {
      if (round > 5) throw new Error(`${pending.length} sockets never received a warm-up message`);
      const bodies = pending.map((side) => `warm:${side.key}:${round}`);
      await inParallel(
        pending.map((side, j) => ({ side, body: bodies[j] as string })),
        20,
        ({ side, body }) => send(side.from, side.to, body),
      );
      const deadline = performance.now() + 10_000;
      while (!bodies.every((b) => received.has(b)) && performance.now() < deadline) await sleep(50);
      pending = pending.filter((_, j) => !received.has(bodies[j] as string));
      if (pending.length > 0) progress(`warm-up round ${round}: ${pending.length} not delivered yet`);
    }
    await sleep(1_000);

    const scenarios = [...new Set([Math.min(20, pairCount), pairCount])];
    const rows: string[] = [];
    let failures = 0;
    for (const concurrent of scenarios) {
      progress(`${concurrent} pairs talking at once, ${perPair} messages each`);
      const sentAt = new Map<string, number>();
      const answered: number[] = [];
      const errors: string[] = [];
      const started = performance.now();
      await Promise.all(
        pairs.slice(0, concurrent).map(async (pair, i) => {
          for (let n = 0; n < perPair; n++) {
            const [from, to] = n % 2 === 0 ? [pair.user, pair.streamer] : [pair.streamer, pair.user];
            const body = `run:${concurrent}:${i}:${n}`;
            const at = performance.now();
            sentAt.set(body, at);
            try {
              await send(from, to, body);
              answered.push(performance.now() - at);
            } catch (error) {
              errors.push(error instanceof Error ? error.message.slice(0, 160) : String(error));
            }
          }
        }),
      );
      const expected = sentAt.size - errors.length;
      const waitUntil = performance.now() + 30_000;
      const delivered = () => [...sentAt.keys()].filter((b) => received.has(b)).length;
      while (delivered() < expected && performance.now() < waitUntil) await sleep(20);
      const latencies = [...sentAt.entries()]
        .filter(([body]) => received.has(body))
        .map(([body, at]) => (received.get(body) ?? at) - at)
        .sort((a, b) => a - b);
      const last = Math.max(...[...sentAt.keys()].map((b) => received.get(b) ?? 0));
      const seconds = (last - started) / 1000;
      answered.sort((a, b) => a - b);
      const ms = (value: number) => `${value.toFixed(1)} ms`;
      rows.push(
        `| ${concurrent} | ${sentAt.size} | ${latencies.length} | ${errors.length} | ${Math.round(latencies.length / seconds)} | ` +
          `${ms(percentile(latencies, 50))} | ${ms(percentile(latencies, 90))} | ${ms(percentile(latencies, 99))} | ` +
          `${ms(latencies.at(-1) ?? Number.NaN)} | ${ms(percentile(answered, 50))} / ${ms(percentile(answered, 99))} |`,
      );
      if (errors.length > 0) progress(`errors (first 3): ${errors.slice(0, 3).join('; ')}`);
      failures += errors.length + (expected - latencies.length);
      await sleep(1_000);
    }

    const stored = await sql<{ n: string }>`select count(*)::text as n from chat.messages`.execute(handle.db);
    const cpus = os.cpus();
    const { version } = await describeDatabase(database.url);
    const report = [
      `### Chat messages (${new Date().toISOString().slice(0, 10)})`,
      '',
      `\`BENCH_CHAT_PAIRS=${pairCount} BENCH_CHAT_MESSAGES=${perPair} BENCH_CHAT_PRELOAD=${preload} BENCH_CHAT_POOL_MAX=${poolMax} node apps/server/bench/chat.ts\``,
      '',
      `${preload.toLocaleString('en')} background messages in ${conversations.toLocaleString('en')} conversations stored before; ` +
        `${pairCount} user–streamer pairs, each side with its own \`chatUpdates\` socket (${pairCount * 2} sockets) on the one ` +
        `server process (DATABASE_POOL_MAX=${poolMax}). In each row that many pairs talk at once: ${perPair} messages per pair, ` +
        'alternating sides, each sender waiting for its answer before the next (`sendChatMessage` over HTTP). Latency: request ' +
        "sent → the message received on the recipient's socket. messages/s: delivered messages over the time from the first " +
        'send to the last delivery.',
      '',
      '| pairs at once | sent | delivered | failed | messages/s | p50 | p90 | p99 | max | answer p50 / p99 |',
      '| ------------: | ---: | --------: | -----: | ---------: | --: | --: | --: | --: | ---------------: |',
      ...rows,
      '',
      `${Number(stored.rows[0]?.n ?? 0).toLocaleString('en')} messages stored at the end. Machine: ${cpus.length} × ` +
        `${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ` +
        `${version.split(' on ')[0]} (${database.kind}).`,
    ].join('\n');
    process.stdout.write(`${report}\n`);
    await writeFile(RESULTS_FILE, `${report}\n`);
    return failures === 0 ? 0 : 1;
  } finally {
    await cleanUp();
  }
}

process.once('SIGINT', () => {
  void cleanUp().finally(() => process.exit(130));
});
process.exitCode = await main();
