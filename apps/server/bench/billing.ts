/**
 * `node apps/server/bench/billing.ts`: checkpoint lateness with many concurrent calls. A fresh
 * PostgreSQL, the real server as its own process (it runs the billing jobs and the reconciler), and
 * this process as the video domain would be: it starts BENCH_BILLING_CALLS calls through the billing
 * service on the same database, lets them run, and measures how late each checkpoint was charged
 * (billing.charges.charged_at − due_at). Prints a Markdown report.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import os from 'node:os';
import { sql } from 'kysely';
import { buildApp } from '../src/app.ts';
import { accounts } from '../src/domains/balance/balance.accounts.ts';
import { domainMigrations } from '../src/domains/registry.ts';
import { systemClock } from '../src/platform/clock.ts';
import { createDatabase } from '../src/platform/db/database.ts';
import { platformMigrations, readMigrations } from '../src/platform/db/migrator.ts';
import { withTransaction } from '../src/platform/db/transaction.ts';
import { testConfig } from '../test/app.ts';
import { startServerProcess } from '../test/server-process.ts';
import { startBenchDatabase } from './bench-database.ts';
import { cleanupStack, inParallel, integerFromEnv, percentile } from './bench-support.ts';

const progress = (message: string) => process.stderr.write(`bench:billing: ${message}\n`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `work` over `items` with at most `limit` at a time. */
/** Cleanup steps, run last first, on the normal exit and on Ctrl-C. */
const { cleanups, cleanUp } = cleanupStack();

async function main(): Promise<number> {
  const calls = integerFromEnv('BENCH_BILLING_CALLS', 1000, 1);
  const interval = integerFromEnv('BENCH_BILLING_INTERVAL', 20, 1);
  const seconds = integerFromEnv('BENCH_BILLING_SECONDS', 60, interval);
  const jobsConcurrency = integerFromEnv('BENCH_BILLING_JOBS_CONCURRENCY', 5, 1);
  const pollMs = integerFromEnv('BENCH_BILLING_POLL_MS', 1000, 10);
  try {
    progress('starting PostgreSQL');
    const database = await startBenchDatabase(process.env.BENCH_DATABASE_URL || undefined);
    cleanups.push(database.stop);
    const server = await startServerProcess({
      env: {
        NODE_ENV: 'production',
        AUTH_SIGNING_KEY_SECRET: randomBytes(32).toString('base64url'),
        MEDIA_URL_SECRET: randomBytes(32).toString('base64url'),
        DATABASE_URL: database.url,
        SEED_DEMO_DATA: 'false',
        JOBS_CONCURRENCY: String(jobsConcurrency),
        JOBS_POLL_INTERVAL_MS: String(pollMs),
      },
      readyTimeoutMs: 120_000,
    });
    cleanups.push(() => server.stop('SIGTERM', 15_000));
    progress(`server ready (pid ${server.process.pid})`);

    const handle = createDatabase({ url: database.url, poolMax: 20 });
    const driver = await buildApp({
      config: testConfig(),
      database: handle,
      migrations: await readMigrations([platformMigrations, ...domainMigrations]),
      clock: systemClock,
    });
    cleanups.push(driver.shutdown);
    const { services } = driver;
    await services.tariffs.setTariff(
      { principal: null, requestId: 'bench' },
      {
        kind: 'direct',
        cohort: null,
        tariff: {
          payer: { checkpoints: [{ second: 0, coins: 2 }], repeat: { everySeconds: interval, coins: 2 } },
          earner: {
            checkpoints: [{ second: interval, coins: 1 }],
            repeat: { everySeconds: interval, coins: 1 },
          },
        },
      },
    );
    progress(`creating ${calls} payers and funding them`);
    // 1:1 calls: every call has its own streamer, as in production.
    const earners: string[] = [];
    const payers: string[] = [];
    await inParallel(
      Array.from({ length: calls }, (_, i) => i),
      20,
      async () => {
        earners.push((await services.accounts.createOloAccount(['streamer'])).id);
        const id = (await services.accounts.createOloAccount(['user'])).id;
        await services.ledger.execute({
          idempotencyKey: `bench:fund:${id}`,
          kind: 'purchase',
          postings: [
            { account: accounts.storeClearing, amount: -1_000_000n },
            { account: accounts.walletPaid(id), amount: 1_000_000n },
          ],
        });
        payers.push(id);
      },
    );

    // Starts spread over one interval, so checkpoints arrive evenly (calls/interval per second).
    progress(`starting ${calls} calls over ${interval} s; each checkpoint every ${interval} s`);
    const callIds: string[] = [];
    const startedAt = Date.now();
    await inParallel(
      payers.map((payerId, i) => ({ payerId, i })),
      20,
      async ({ payerId, i }) => {
        const wait = startedAt + (i / calls) * interval * 1000 - Date.now();
        if (wait > 0) await sleep(wait);
        const callId = randomUUID();
        await withTransaction(handle.db, (tx) =>
          services.billing.start(tx, {
            callId,
            kind: 'direct',
            payerId,
            earnerId: earners[i] as string,
            connectedAt: new Date(),
          }),
        );
        callIds.push(callId);
      },
    );
    progress(`all calls live; running for ${seconds} s`);
    // What the database's sessions wait on during the run, sampled every 500 ms: shows where time goes.
    const waits = new Map<string, number>();
    let samples = 0;
    const sampleUntil = Date.now() + seconds * 1000;
    while (Date.now() < sampleUntil) {
      const rows = await sql<{ wait: string; count: string }>`
        select coalesce(wait_event_type || ':' || wait_event, 'running') as wait, count(*)::text as count
        from pg_stat_activity
        where datname = current_database() and state not in ('idle') and pid <> pg_backend_pid()
        group by 1
      `.execute(handle.db);
      for (const row of rows.rows) waits.set(row.wait, (waits.get(row.wait) ?? 0) + Number(row.count));
      samples++;
      await sleep(500);
    }
    const snapshot = new Date();

    // Every checkpoint after 0 (0 is charged by start itself) that was due 2 s before the snapshot.
    const due = await handle.db
      .selectFrom('billing.sessions')
      .select(['call_id', 'connected_at'])
      .where('status', '=', 'live')
      .execute();
    const charges = await handle.db
      .selectFrom('billing.charges')
      .select(['call_id', 'n', 'due_at', 'charged_at'])
      .where('n', '>', 0)
      .where('charged_at', '<=', snapshot)
      .execute();
    let expected = 0;
    for (const session of due) {
      const elapsed = (snapshot.getTime() - 2_000 - session.connected_at.getTime()) / 1000;
      expected += Math.max(0, Math.floor(elapsed / interval));
    }
    const lateness = charges
      .filter((c) => c.due_at.getTime() <= snapshot.getTime() - 2_000)
      .map((c) => c.charged_at.getTime() - c.due_at.getTime())
      .sort((a, b) => a - b);
    const missing = expected - lateness.length;

    const ms = (value: number) => `${Math.round(value)} ms`;
    const report = [
      `### Billing checkpoint lateness (${new Date().toISOString().slice(0, 10)})`,
      '',
      `\`BENCH_BILLING_CALLS=${calls} BENCH_BILLING_INTERVAL=${interval} BENCH_BILLING_SECONDS=${seconds} ` +
        `BENCH_BILLING_JOBS_CONCURRENCY=${jobsConcurrency} BENCH_BILLING_POLL_MS=${pollMs} node apps/server/bench/billing.ts\``,
      '',
      `${calls} concurrent calls, a checkpoint every ${interval} s each (≈ ${Math.round(calls / interval)} checkpoints/s), ` +
        `one server process (JOBS_CONCURRENCY=${jobsConcurrency}, JOBS_POLL_INTERVAL_MS=${pollMs}), ` +
        `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ${database.kind}.`,
      '',
      '| checkpoints measured | p50 | p90 | p99 | max | not charged 2 s after due |',
      '| --- | --- | --- | --- | --- | --- |',
      `| ${lateness.length} | ${ms(percentile(lateness, 50))} | ${ms(percentile(lateness, 90))} | ${ms(percentile(lateness, 99))} | ${ms(lateness.at(-1) ?? Number.NaN)} | ${missing} |`,
    ];
    const topWaits = [...waits.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6);
    report.push(
      '',
      `Average active database sessions by wait event (${samples} samples): ` +
        topWaits.map(([wait, total]) => `${wait} ${(total / Math.max(1, samples)).toFixed(1)}`).join(', '),
    );
    process.stdout.write(`\n${report.join('\n')}\n`);
    const warnings = () =>
      server
        .output()
        .split('\n')
        .filter((line) => Number(/"level":(\d+)/.exec(line)?.[1] ?? 0) >= 40);
    if (warnings().length > 0) {
      progress(
        `server logged ${warnings().length} warnings/errors; the first ones:\n${warnings().slice(0, 5).join('\n')}`,
      );
    }

    progress('stopping the calls');
    let stopFailures = 0;
    let firstStopFailure = '';
    await inParallel(callIds, 20, async (callId) => {
      try {
        await withTransaction(handle.db, (tx) => services.billing.stop(tx, callId, new Date(), 'bench'));
      } catch (error) {
        stopFailures++;
        firstStopFailure ||= error instanceof Error ? error.message : String(error);
      }
    });
    if (stopFailures > 0)
      progress(`${stopFailures} stops failed (after retries); the first: ${firstStopFailure}`);
    const count = async (query: Promise<{ count: bigint }>) => Number((await query).count);
    const ledgerCharges = await count(
      handle.db
        .selectFrom('balance.transactions')
        .select((eb) => eb.fn.countAll<bigint>().as('count'))
        .where('kind', '=', 'call_charge')
        .executeTakeFirstOrThrow(),
    );
    const chargeRows = await count(
      handle.db
        .selectFrom('billing.charges')
        .select((eb) => eb.fn.countAll<bigint>().as('count'))
        .executeTakeFirstOrThrow(),
    );
    process.stdout.write(
      `\nAfter stopping every call: ${ledgerCharges} call_charge ledger transactions, ${chargeRows} billing.charges rows, ${stopFailures} failed stops.\n`,
    );
    return ledgerCharges === chargeRows && stopFailures === 0 ? 0 : 1;
  } finally {
    await cleanUp();
  }
}

process.once('SIGINT', () => {
  progress('interrupted; cleaning up');
  void cleanUp().finally(() => process.exit(130));
});

let code = 1;
try {
  code = await main();
} catch (error) {
  progress(
    `failed: ${error instanceof Error ? error.stack : String(error)}\n${(error as { detail?: string }).detail ?? ''}`,
  );
}
process.exit(code);
