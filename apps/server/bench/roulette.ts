/**
 * `node apps/server/bench/roulette.ts`: roulette matches per second with BENCH_ROULETTE_USERS
 * (2,000) users waiting. A fresh PostgreSQL and the real services in this process (and a second
 * instance on the same database for the multi-process run). For each scenario fresh accounts fill
 * the pool while the streamers are away (so nothing matches yet), then the streamers become
 * available and matchers take pairs through RouletteService.matchOne, the transaction the cron
 * tick and joins run: lock the pair, start the roulette call, mark both entries. Prints a Markdown
 * report and writes bench/results/roulette.md.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { buildApp } from '../src/app.ts';
import { accounts } from '../src/domains/balance/balance.accounts.ts';
import { adminActor } from '../src/domains/mission_control/money-report.testing.ts';
import { domainMigrations } from '../src/domains/registry.ts';
import { systemClock } from '../src/platform/clock.ts';
import { createDatabase } from '../src/platform/db/database.ts';
import { platformMigrations, readMigrations } from '../src/platform/db/migrator.ts';
import type { Services } from '../src/services.ts';
import { testConfig } from '../test/app.ts';
import { startBenchDatabase } from './bench-database.ts';
import { cleanupStack, inParallel, integerFromEnv, percentile } from './bench-support.ts';

const RESULTS_FILE = path.join(import.meta.dirname, 'results', 'roulette.md');
const LANGUAGES = ['en', 'de', 'fr', 'es'];
const progress = (message: string) => process.stderr.write(`bench:roulette: ${message}\n`);

/** Runs `work` over `items` with at most `limit` at a time. */
type Scenario = {
  name: string;
  instances: 1 | 2;
  matchersPerInstance: number;
  /** Users ask for a language (never widened here); streamers speak one of LANGUAGES. */
  languages: boolean;
};

type Row = Scenario & {
  matches: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  doubleMatched: number;
};

const { cleanups, cleanUp } = cleanupStack();

async function main(): Promise<number> {
  const userCount = integerFromEnv('BENCH_ROULETTE_USERS', 2000, 1);
  const streamerCount = integerFromEnv('BENCH_ROULETTE_STREAMERS', 500, 1);
  try {
    progress('starting PostgreSQL');
    const database = await startBenchDatabase(process.env.BENCH_DATABASE_URL || undefined);
    cleanups.push(database.stop);
    const migrations = await readMigrations([platformMigrations, ...domainMigrations]);
    const instance = async () => {
      const built = await buildApp({
        config: testConfig({ DATABASE_URL: database.url }),
        database: createDatabase({ url: database.url, poolMax: 10 }),
        migrations,
        clock: systemClock,
      });
      cleanups.push(built.shutdown);
      return built.services;
    };
    const first = await instance();
    const second = await instance();
    // The job queue's schema (the calls' timer jobs); its worker then runs here as in a server process.
    await first.jobs.start();
    const db = createDatabase({ url: database.url, poolMax: 4 });
    cleanups.push(db.close);
    const admin = await first.accounts.createOloAccount(['admin']);
    const actor = adminActor(admin.id);
    // Preferences never widen and entries never go silent during a run: only matching is measured.
    await first.settings.set(actor, 'roulette.preference_widen_seconds', 600, 'bench');
    await first.settings.set(actor, 'roulette.heartbeat_timeout_seconds', 120, 'bench');

    const scenarios: Scenario[] = [
      { name: 'one matcher', instances: 1, matchersPerInstance: 1, languages: false },
      { name: 'two instances × 2 matchers', instances: 2, matchersPerInstance: 2, languages: false },
      { name: 'language preferences, one matcher', instances: 1, matchersPerInstance: 1, languages: true },
    ];
    const rows: Row[] = [];
    for (const scenario of scenarios) {
      await sql`delete from video.roulette_pool`.execute(db.db);
      progress(`${scenario.name}: ${streamerCount} streamers and ${userCount} users join`);
      const { users, streamers } = await fill(first, userCount, streamerCount, scenario.languages);
      // Every entry alive from now: a slow fill must not leave silent ones behind.
      await sql`update video.roulette_pool set heartbeat_at = now()`.execute(db.db);
      await inParallel(
        streamers,
        20,
        async (id) => void (await first.presence.setAvailability(id, 'available')),
      );
      const waiting = await first.roulette.status(users[0] as string);
      if (waiting.state !== 'waiting') throw new Error('the pool was matched before the measurement');

      progress(`${scenario.name}: matching`);
      const provider = (await first.video.selector.choose()).name;
      const services = scenario.instances === 2 ? [first, second] : [first];
      const latencies: number[] = [];
      const startedAt = performance.now();
      await Promise.all(
        services.flatMap((s) =>
          Array.from({ length: scenario.matchersPerInstance }, async () => {
            for (;;) {
              const t0 = performance.now();
              const call = await s.roulette.matchOne(provider);
              if (!call) return;
              latencies.push(performance.now() - t0);
            }
          }),
        ),
      );
      const seconds = (performance.now() - startedAt) / 1000;
      const twice = await sql<{ n: string }>`
        select count(*) as n from (
          select caller_id from video.calls where kind = 'roulette' group by caller_id having count(*) > 1
          union all
          select callee_id from video.calls where kind = 'roulette' group by callee_id having count(*) > 1
        ) t
      `.execute(db.db);
      latencies.sort((a, b) => a - b);
      rows.push({
        ...scenario,
        matches: latencies.length,
        seconds,
        perSecond: latencies.length / seconds,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        doubleMatched: Number(twice.rows[0]?.n ?? 0),
      });
    }

    // The cost of a round that finds nothing: every user's preference unmet by every streamer.
    await sql`delete from video.roulette_pool`.execute(db.db);
    progress(`empty round: ${userCount} users asking for a language no streamer speaks`);
    const empty = await fill(first, userCount, streamerCount, false, 'ja');
    await sql`update video.roulette_pool set heartbeat_at = now()`.execute(db.db);
    await inParallel(
      empty.streamers,
      20,
      async (id) => void (await first.presence.setAvailability(id, 'available')),
    );
    const emptyRounds: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const round = await first.roulette.matchRound();
      emptyRounds.push(performance.now() - t0);
      if (round.matched > 0) throw new Error('an empty round matched');
    }
    emptyRounds.sort((a, b) => a - b);

    const ms = (value: number) => `${value.toFixed(1)} ms`;
    const report = [
      `### Roulette matching (${new Date().toISOString().slice(0, 10)})`,
      '',
      `\`BENCH_ROULETTE_USERS=${userCount} BENCH_ROULETTE_STREAMERS=${streamerCount} node apps/server/bench/roulette.ts\``,
      '',
      `${userCount} users waiting, ${streamerCount} streamers becoming available at once (the pool stays ≥ ` +
        `${Math.max(0, userCount - streamerCount)} users), ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ` +
        `${database.kind}, the services in this process (pool of 10 connections per instance).`,
      '',
      '| scenario | matchers | matches | matches/s | p50 per match | p99 per match | accounts matched twice |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...rows.map(
        (r) =>
          `| ${r.name} | ${r.instances * r.matchersPerInstance} | ${r.matches} | ${Math.round(r.perSecond)} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.doubleMatched} |`,
      ),
      '',
      `A round that finds nothing (${userCount} users asking for a language none of ${streamerCount} available ` +
        `streamers speaks): median ${ms(percentile(emptyRounds, 50))}, max ${ms(emptyRounds.at(-1) ?? Number.NaN)} ` +
        `over ${emptyRounds.length} rounds.`,
    ].join('\n');
    process.stdout.write(`\n${report}\n`);
    await mkdir(path.dirname(RESULTS_FILE), { recursive: true });
    await writeFile(RESULTS_FILE, `${report}\n`);
    progress(`wrote ${path.relative(process.cwd(), RESULTS_FILE)}`);
    const unmatched = rows.filter((r) => r.matches !== Math.min(userCount, streamerCount));
    for (const r of unmatched) progress(`FAILED: ${r.name}: ${r.matches} matches`);
    return rows.some((r) => r.doubleMatched > 0) || unmatched.length > 0 ? 1 : 0;
  } finally {
    await cleanUp();
  }
}

/**
 * Fresh accounts in the pool: streamers first, set away so that the users' joins match nothing,
 * then funded users. With `languages`, each streamer speaks one of LANGUAGES and each user asks for
 * one; with `wanted`, every user asks for that language.
 */
async function fill(
  services: Services,
  userCount: number,
  streamerCount: number,
  languages: boolean,
  wanted?: string,
): Promise<{ users: string[]; streamers: string[] }> {
  const streamers: string[] = [];
  const users: string[] = [];
  await inParallel(
    Array.from({ length: streamerCount }, (_, i) => i),
    20,
    async (i) => {
      const { id } = await services.accounts.createOloAccount(['streamer']);
      services.presence.connectionChanged({ type: 'opened', connectionId: randomUUID(), userId: id });
      if (languages) await services.profiles.update(id, { languages: [LANGUAGES[i % LANGUAGES.length]] });
      await services.presence.settled();
      await services.roulette.join(id);
      await services.presence.setAvailability(id, 'away');
      streamers.push(id);
    },
  );
  await inParallel(
    Array.from({ length: userCount }, (_, i) => i),
    20,
    async (i) => {
      const { id } = await services.accounts.createOloAccount(['user']);
      await services.ledger.execute({
        idempotencyKey: `bench:roulette:fund:${id}`,
        kind: 'purchase',
        postings: [
          { account: accounts.storeClearing, amount: -10_000n },
          { account: accounts.walletPaid(id), amount: 10_000n },
        ],
      });
      const language = wanted ?? (languages ? LANGUAGES[(i * 7) % LANGUAGES.length] : undefined);
      await services.roulette.join(id, language ? { language } : undefined);
      users.push(id);
    },
  );
  return { users, streamers };
}

process.once('SIGINT', () => {
  progress('interrupted; cleaning up');
  void cleanUp().finally(() => process.exit(130));
});

let code = 1;
try {
  code = await main();
} catch (error) {
  progress(`failed: ${error instanceof Error ? error.stack : String(error)}`);
}
process.exit(code);
