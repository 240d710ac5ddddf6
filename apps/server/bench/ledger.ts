/**
 * `node apps/server/bench/ledger.ts`: ledger transfers per second at 1, 8 and 64 concurrent
 * writers, spread over many accounts and all onto one hot streamer account, through the ledger
 * service; then the same statements sent through `pg` alone (the raw SQL ceiling) in the same run.
 * A transfer is a call checkpoint: spend 10 from a payer, 6 to the streamer's held earnings, 4 to
 * platform revenue. Prints a Markdown report and writes bench/results/ledger.md.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { buildApp } from '../src/app.ts';
import { accounts } from '../src/domains/balance/balance.accounts.ts';
import { domainMigrations } from '../src/domains/registry.ts';
import { systemClock } from '../src/platform/clock.ts';
import { createDatabase } from '../src/platform/db/database.ts';
import { platformMigrations, readMigrations } from '../src/platform/db/migrator.ts';
import { testConfig } from '../test/app.ts';
import { startBenchDatabase } from './bench-database.ts';
import { percentile } from './bench-support.ts';

const RESULTS_FILE = path.join(import.meta.dirname, 'results', 'ledger.md');
const WRITER_COUNTS = [1, 8, 64];
const progress = (message: string) => process.stderr.write(`bench:ledger: ${message}\n`);

type Row = {
  path: 'service' | 'raw SQL' | 'raw SQL, no events';
  target: 'spread' | 'hot';
  writers: number;
  transfers: number;
  perSecond: number;
  p50: number;
  p99: number;
};

/** Runs `transfer(writer)` from `writers` loops for `seconds`; latency per transfer in ms. */
async function measure(writers: number, seconds: number, transfer: (writer: number) => Promise<void>) {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      while (performance.now() < end) {
        const start = performance.now();
        await transfer(writer);
        latencies.push(performance.now() - start);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    transfers: latencies.length,
    perSecond: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_LEDGER_SECONDS ?? 5);
  const startedAt = new Date();
  const database = await startBenchDatabase(process.env.BENCH_DATABASE_URL || undefined);
  const handle = createDatabase({ url: database.url, poolMax: 70 });
  const app = await buildApp({
    config: testConfig({ DATABASE_URL: database.url }),
    database: handle,
    migrations: await readMigrations([platformMigrations, ...domainMigrations]),
    clock: systemClock,
  });
  const raw = new pg.Pool({ connectionString: database.url, max: 70 });
  const rows: Row[] = [];
  try {
    const { services } = app;
    const maxWriters = Math.max(...WRITER_COUNTS);
    progress(`creating ${maxWriters} payers and ${maxWriters} streamers`);
    const payers = await Promise.all(
      Array.from({ length: maxWriters }, async () => (await services.accounts.createOloAccount(['user'])).id),
    );
    const streamers = await Promise.all(
      Array.from(
        { length: maxWriters },
        async () => (await services.accounts.createOloAccount(['streamer'])).id,
      ),
    );
    for (const id of payers) {
      await services.ledger.execute({
        idempotencyKey: `bench:fund:${id}`,
        kind: 'purchase',
        postings: [
          { account: accounts.storeClearing, amount: -1_000_000_000n },
          { account: accounts.walletPaid(id), amount: 1_000_000_000n },
        ],
      });
    }
    // The streamers' earnings accounts exist before the raw path runs (the service creates them on first use).
    for (const id of streamers) {
      await services.ledger.execute({
        idempotencyKey: `bench:warm:${id}`,
        kind: 'call_charge',
        spend: { userId: payers[0] as string, amount: 1n },
        postings: [{ account: accounts.earningsPending({ kind: 'user', id }), amount: 1n }],
      });
    }
    const ids = await accountIds(raw, payers, streamers);

    for (const target of ['spread', 'hot'] as const) {
      for (const writers of WRITER_COUNTS) {
        const streamerOf = (writer: number) =>
          target === 'hot' ? (streamers[0] as string) : (streamers[writer] as string);
        progress(`service, ${target}, ${writers} writer(s), ${seconds} s`);
        const service = await measure(writers, seconds, async (writer) => {
          await services.ledger.execute({
            idempotencyKey: `bench:${randomUUID()}`,
            kind: 'call_charge',
            spend: { userId: payers[writer] as string, amount: 10n },
            postings: [
              { account: accounts.earningsPending({ kind: 'user', id: streamerOf(writer) }), amount: 6n },
              { account: accounts.platformRevenue, amount: 4n },
            ],
          });
        });
        rows.push({ path: 'service', target, writers, ...service });
        progress(`raw SQL, ${target}, ${writers} writer(s), ${seconds} s`);
        const bare = await measure(writers, seconds, async (writer) => {
          await rawTransfer(raw, ids, payers[writer] as string, streamerOf(writer));
        });
        rows.push({ path: 'raw SQL', target, writers, ...bare });
        progress(`raw SQL without the events, ${target}, ${writers} writer(s), ${seconds} s`);
        const noEvents = await measure(writers, seconds, async (writer) => {
          await rawTransfer(raw, ids, payers[writer] as string, streamerOf(writer), false);
        });
        rows.push({ path: 'raw SQL, no events', target, writers, ...noEvents });
      }
    }
    const settings = await raw.query<{ fsync: string; synchronous_commit: string }>(
      "select current_setting('fsync') as fsync, current_setting('synchronous_commit') as synchronous_commit",
    );
    const durability = `fsync=${settings.rows[0]?.fsync}, synchronous_commit=${settings.rows[0]?.synchronous_commit}`;
    const report = await verifyAndReport(services, rows, {
      seconds,
      startedAt,
      kind: `${database.kind} (${durability})`,
    });
    process.stdout.write(`\n${report}\n`);
    await mkdir(path.dirname(RESULTS_FILE), { recursive: true });
    await writeFile(RESULTS_FILE, report);
    progress(`wrote ${path.relative(process.cwd(), RESULTS_FILE)}`);
  } finally {
    await raw.end();
    await app.shutdown();
    await database.stop();
  }
}

type Ids = {
  paid: Map<string, bigint>;
  bonus: Map<string, bigint>;
  pending: Map<string, bigint>;
  revenue: bigint;
};

async function accountIds(pool: pg.Pool, payers: string[], streamers: string[]): Promise<Ids> {
  const result = await pool.query<{ id: string; owner_id: string | null; kind: string }>(
    'select id, owner_id, kind from balance.accounts where owner_id = any($1::uuid[]) or owner_kind = $2',
    [[...payers, ...streamers], 'platform'],
  );
  const ids: Ids = { paid: new Map(), bonus: new Map(), pending: new Map(), revenue: 0n };
  for (const row of result.rows) {
    const id = BigInt(row.id);
    if (row.kind === 'wallet_paid' && row.owner_id) ids.paid.set(row.owner_id, id);
    if (row.kind === 'wallet_bonus' && row.owner_id) ids.bonus.set(row.owner_id, id);
    if (row.kind === 'earnings_pending' && row.owner_id) ids.pending.set(row.owner_id, id);
    if (row.kind === 'platform_revenue') ids.revenue = id;
  }
  return ids;
}

/**
 * The statements the service sends for one checkpoint, without Kysely, zod or our code around them:
 * lock the payer's wallet rows and the streamer's row in id order, check the key, insert the
 * transaction, update the balances (platform revenue on a random shard), insert the postings and
 * the hold, and the two `balance_changed` events.
 */
async function rawTransfer(
  pool: pg.Pool,
  ids: Ids,
  payer: string,
  streamer: string,
  withEvents = true,
): Promise<void> {
  const client = await pool.connect();
  try {
    const paid = ids.paid.get(payer) as bigint;
    const bonus = ids.bonus.get(payer) ?? paid;
    const pending = ids.pending.get(streamer) as bigint;
    const key = `raw:${randomUUID()}`;
    const shard = Math.floor(Math.random() * 16);
    await client.query('begin');
    await client.query({
      name: 'lock',
      text: 'select b.account_id, b.balance, b.version from balance.balances b where b.shard = 0 and b.account_id = any($1::bigint[]) order by b.account_id for update',
      values: [[paid, bonus, pending].map(String)],
    });
    await client.query({
      name: 'find',
      text: 'select id from balance.transactions where idempotency_key = $1',
      values: [key],
    });
    const tx = await client.query<{ id: string }>({
      name: 'insert-tx',
      text: `insert into balance.transactions (idempotency_key, request_hash, kind, metadata, spent_paid, spent_bonus, created_at)
             values ($1, $2, 'call_charge', '{}', 10, 0, now()) on conflict (idempotency_key) do nothing returning id, seq`,
      values: [key, key],
    });
    const txId = tx.rows[0]?.id as string;
    const updated = await client.query<{
      account_id: string;
      shard: number;
      balance: string;
      version: string;
    }>({
      name: 'update',
      text: `update balance.balances b set balance = b.balance + v.delta, version = b.version + 1, updated_at = now()
             from (values ($1::bigint, 0::smallint, -10::bigint), ($2::bigint, 0::smallint, 6::bigint), ($3::bigint, $4::smallint, 4::bigint)) as v(account_id, shard, delta)
             where b.account_id = v.account_id and b.shard = v.shard returning b.account_id, b.shard, b.balance, b.version`,
      values: [paid, pending, ids.revenue, shard].map(String),
    });
    const after = (id: bigint) =>
      updated.rows.find((r) => String(r.account_id) === String(id)) as {
        balance: string;
        version: string;
        shard: number;
      };
    await client.query({
      name: 'postings',
      text: `insert into balance.postings (transaction_id, account_id, shard, amount, balance_after, version, created_at)
             values ($1, $2, 0, -10, $3, $4, now()), ($1, $5, 0, 6, $6, $7, now()), ($1, $8, $9, 4, $10, $11, now())`,
      values: [
        txId,
        String(paid),
        after(paid).balance,
        after(paid).version,
        String(pending),
        after(pending).balance,
        after(pending).version,
        String(ids.revenue),
        String(shard),
        after(ids.revenue).balance,
        after(ids.revenue).version,
      ],
    });
    await client.query({
      name: 'hold',
      text: `insert into balance.earning_holds (account_id, transaction_id, amount, release_at) values ($1, $2, 6, now() + interval '72 hours')`,
      values: [String(pending), txId],
    });
    for (const userId of withEvents ? [payer, streamer] : []) {
      await client.query({
        name: 'event',
        text: `insert into event_log.events (type, version, payload, user_id, occurred_at) values ('balance_changed', 1, $1, $2, now())`,
        values: [
          JSON.stringify({ userId, transactionId: txId, transactionKind: 'call_charge', accounts: [] }),
          userId,
        ],
      });
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

async function verifyAndReport(
  services: Awaited<ReturnType<typeof buildApp>>['services'],
  rows: Row[],
  run: { seconds: number; startedAt: Date; kind: string },
): Promise<string> {
  const check = await services.ledger.verify();
  const lines = [
    `### Ledger transfers (${run.startedAt.toISOString()})`,
    '',
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${run.kind}. ` +
      `Command: \`node apps/server/bench/ledger.ts\` (BENCH_LEDGER_SECONDS=${run.seconds} per row). ` +
      `A transfer: spend 10 from a payer's wallet, 6 to a streamer's held earnings, 4 to platform revenue, two \`balance_changed\` events; ` +
      '"spread": each writer its own payer and streamer; "hot": every writer onto one streamer.',
    '',
    '| path | target | writers | transfers | transfers/s | p50 ms | p99 ms |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.path} | ${r.target} | ${r.writers} | ${r.transfers} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |`,
    ),
    '',
    `After the run the projection matched the postings: ${check.mismatches.length === 0 ? 'yes' : `NO (${check.mismatches.length} rows)`}; ` +
      `sum of all postings: ${check.total}.`,
  ];
  return lines.join('\n');
}

await main();
