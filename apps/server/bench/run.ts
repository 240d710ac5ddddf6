/**
 * `npm run bench`: a fresh PostgreSQL, the real server as its own process, and autocannon
 * against the bare route and GraphQL. Prints a Markdown report and writes it to
 * bench/results/latest.md. Exits non-zero when any request failed.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServerProcess } from '../test/server-process.ts';
import { describeDatabase, startBenchDatabase } from './bench-database.ts';
import { integerFromEnv } from './bench-support.ts';
import { type EventThroughputResult, measureEventThroughput } from './events.ts';
import { type FanoutResult, measureBareBroadcast, measureOloFanout } from './fanout.ts';
import { signIn } from './graphql-client.ts';
import {
  checkScenario,
  failed,
  type LoadOptions,
  runScenario,
  type ScenarioResult,
  scenarios,
} from './load.ts';
import { realtimeReport } from './realtime-report.ts';
import { invocation, markdownReport } from './report.ts';

const RESULTS_FILE = path.join(import.meta.dirname, 'results', 'latest.md');

function fanoutSizes(): number[] {
  const raw = process.env.BENCH_FANOUT_SIZES ?? '1000,10000';
  const sizes = raw.split(',').map((s) => Number(s.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(
      `BENCH_FANOUT_SIZES must be a comma-separated list of positive integers (got ${JSON.stringify(raw)})`,
    );
  }
  return sizes;
}

const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);

/** Cleanup steps, last registered first; each runs once even when SIGINT races the normal exit. */
const cleanups: Array<{ name: string; run: () => Promise<void> }> = [];

async function cleanUp(): Promise<void> {
  for (let step = cleanups.pop(); step; step = cleanups.pop()) {
    try {
      await step.run();
    } catch (error) {
      progress(`cleanup "${step.name}" failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

function describeFailure(result: ScenarioResult): string {
  const parts = [
    `${result.scenario.name}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.badBodies} bad bodies`,
    `  status codes: ${JSON.stringify(result.statusCodes)}`,
  ];
  if (result.firstError) parts.push(`  first error: ${result.firstError}`);
  if (result.firstBadBody) parts.push(`  first bad body: ${result.firstBadBody}`);
  return parts.join('\n');
}

async function main(): Promise<number> {
  const load: LoadOptions = {
    durationSeconds: integerFromEnv('BENCH_DURATION', 10, 1),
    connections: integerFromEnv('BENCH_CONNECTIONS', 50, 1),
    warmupSeconds: integerFromEnv('BENCH_WARMUP', 2, 0),
  };
  const startedAt = new Date();
  const loadBefore = os.loadavg()[0] ?? 0;
  const adminUrl = process.env.BENCH_DATABASE_URL || undefined;

  progress(adminUrl ? 'creating a fresh database on BENCH_DATABASE_URL' : 'starting embedded PostgreSQL');
  const database = await startBenchDatabase(adminUrl);
  cleanups.push({ name: 'stop database', run: database.stop });

  progress('starting the server (node apps/server/src/main.ts)');
  const server = await startServerProcess({
    env: {
      // Measure what operators run; production requires a secret for the signing keys at rest,
      // and a throwaway database gets a throwaway secret.
      NODE_ENV: 'production',
      AUTH_SIGNING_KEY_SECRET: randomBytes(32).toString('base64url'),
      MEDIA_URL_SECRET: randomBytes(32).toString('base64url'),
      DATABASE_URL: database.url,
      SEED_DEMO_DATA: 'true',
      // One machine sends all the load from one address and one account: the limiter still runs
      // (its cost is part of every request) but never refuses.
      RATE_LIMIT_PER_IP_PER_MINUTE: '1000000000',
      RATE_LIMIT_PER_USER_PER_MINUTE: '1000000000',
      // The fan-out benchmark opens up to 10,000 sockets for one account from one address.
      WS_MAX_CONNECTIONS_PER_USER: '100000',
      WS_MAX_CONNECTIONS_PER_IP: '100000',
    },
    readyTimeoutMs: 120_000,
  });
  cleanups.push({ name: 'stop server', run: async () => void (await server.stop('SIGTERM', 15_000)) });
  const serverPid = server.process.pid;
  progress(`server ready at ${server.url} (pid ${serverPid})`);
  // pino writes JSON; levels 40 (warn) and above are worth showing next to the numbers.
  const warnings = () =>
    server
      .output()
      .split('\n')
      .filter((line) => Number(/"level":(\d+)/.exec(line)?.[1] ?? 0) >= 40);

  const token = await signIn(server.url);
  const list = scenarios(token);
  for (const scenario of list) await checkScenario(server.url, scenario);

  const results: ScenarioResult[] = [];
  for (const scenario of list) {
    progress(
      `${scenario.name}: ${load.warmupSeconds} s warm-up + ${load.durationSeconds} s, ${load.connections} connections`,
    );
    results.push(
      await runScenario(server.url, scenario, load, { server: serverPid, postgres: database.pid() }),
    );
  }

  const eventCount = integerFromEnv('BENCH_EVENTS', 20_000, 100);
  const events: EventThroughputResult[] = [];
  for (const consumers of [1, 10]) {
    progress(`event log: ${eventCount} events, ${consumers} consumer(s)`);
    events.push(
      await measureEventThroughput({
        databaseUrl: database.url,
        consumers,
        events: eventCount,
        perTransaction: 10,
        writers: 8,
      }),
    );
  }
  const rounds = integerFromEnv('BENCH_FANOUT_ROUNDS', 20, 1);
  const fanout: FanoutResult[] = [];
  for (const subscribers of fanoutSizes()) {
    progress(`fan-out: ${subscribers} subscribers, ${rounds} rounds (OLO, then bare ws)`);
    fanout.push(await measureOloFanout({ baseUrl: server.url, token, subscribers, rounds }));
    fanout.push(await measureBareBroadcast({ subscribers, rounds }));
  }

  const facts = await describeDatabase(database.url);
  const report = markdownReport(
    {
      command: invocation(load),
      database: { kind: database.kind, version: facts.version, users: facts.users },
      load,
      startedAt,
      loadBefore,
    },
    results,
    warnings(),
  ).concat('\n', realtimeReport(events, fanout));
  process.stdout.write(`\n${report}\n`);

  const failures = results.filter(failed);
  const lost = fanout.filter((f) => f.missing > 0);
  const duplicated = events.filter((e) => e.duplicates > 0);
  for (const f of lost) progress(`FAILED: ${f.name}: ${f.missing} deliveries missing`);
  for (const e of duplicated) progress(`FAILED: event log with ${e.name}: ${e.duplicates} duplicates`);
  if (failures.length > 0 || lost.length > 0 || duplicated.length > 0) {
    progress('FAILED: a benchmark of errors is not a benchmark; results were not saved.');
    for (const failure of failures) progress(describeFailure(failure));
    if (warnings().length > 0) progress(`server log:\n${warnings().slice(0, 20).join('\n')}`);
    return 1;
  }
  await mkdir(path.dirname(RESULTS_FILE), { recursive: true });
  await writeFile(RESULTS_FILE, report);
  progress(`wrote ${path.relative(process.cwd(), RESULTS_FILE)}`);
  return 0;
}

process.once('SIGINT', () => {
  progress('interrupted; cleaning up');
  void cleanUp().finally(() => process.exit(130));
});

let code = 1;
try {
  code = await main();
} catch (error) {
  progress(`failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await cleanUp();
}
process.exit(code);
