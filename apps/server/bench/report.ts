import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LoadOptions, ScenarioResult } from './load.ts';

export type RunInfo = {
  command: string;
  database: { kind: string; version: string; users: number };
  load: LoadOptions;
  startedAt: Date;
  /** 1-minute load average before the run: other work on a shared machine skews the numbers. */
  loadBefore: number;
};

const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

function revision(): string {
  const commit = git(['rev-parse', '--short', 'HEAD']);
  if (!commit) return 'unknown';
  return git(['status', '--porcelain'])?.length ? `${commit} (with uncommitted changes)` : commit;
}

function packageVersion(name: string): string {
  try {
    const file = path.join(REPO_ROOT, 'node_modules', name, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** How the benchmark was started, as someone would type it again. */
export function invocation(load: LoadOptions): string {
  const env: string[] = [];
  if (process.env.BENCH_DURATION) env.push(`BENCH_DURATION=${load.durationSeconds}`);
  if (process.env.BENCH_CONNECTIONS) env.push(`BENCH_CONNECTIONS=${load.connections}`);
  if (process.env.BENCH_WARMUP) env.push(`BENCH_WARMUP=${load.warmupSeconds}`);
  if (process.env.BENCH_DATABASE_URL) env.push('BENCH_DATABASE_URL=…');
  if (process.env.npm_lifecycle_event === 'bench') return [...env, 'npm run bench'].join(' ');
  return `cd apps/server && ${[...env, 'node bench/run.ts'].join(' ')}`;
}

const number = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const percent = (share: number | undefined) => (share === undefined ? 'n/a' : `${Math.round(share * 100)} %`);

const HEADERS = [
  'scenario',
  'requests/s',
  'p50 (ms)',
  'p99 (ms)',
  'requests',
  'non-2xx',
  'errors',
  'server CPU',
  'PostgreSQL CPU',
  'load gen CPU',
];

/** A Markdown table with padded columns (as Biome formats it), the first left-aligned, the rest right. */
export function resultsTable(results: ScenarioResult[]): string {
  const rows = results.map((r) => [
    r.scenario.name,
    number(r.requestsPerSecond),
    number(r.p50),
    number(r.p99),
    number(r.requests),
    number(r.non2xx),
    number(r.errors + r.badBodies),
    percent(r.serverCpu),
    percent(r.postgresCpu),
    percent(r.loadGeneratorCpu),
  ]);
  const widths = HEADERS.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => row[i]?.length ?? 0)),
  );
  const cell = (text: string, i: number) =>
    i === 0 ? text.padEnd(widths[i] ?? 0) : text.padStart(widths[i] ?? 0);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(HEADERS.map(cell)),
    line(widths.map((width, i) => (i === 0 ? '-'.repeat(width) : `${'-'.repeat(width - 1)}:`))),
    ...rows.map((row) => line(row.map(cell))),
  ].join('\n');
}

export function machineLines(info: RunInfo): string[] {
  const cpus = os.cpus();
  const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  return [
    `- CPU: ${cpus[0]?.model.trim() ?? 'unknown'}, ${cpus.length} logical cores (os.cpus())`,
    `- memory: ${gib(os.totalmem())} total, ${gib(os.freemem())} free at the end`,
    `- OS: ${os.type()} ${os.release()} (${os.arch()}); 1-minute load average ${info.loadBefore.toFixed(2)} before the run`,
    `- Node.js: ${process.version}; autocannon ${packageVersion('autocannon')}, fastify ${packageVersion('fastify')}, mercurius ${packageVersion('mercurius')}`,
    `- PostgreSQL (${info.database.kind}): ${info.database.version}`,
  ];
}

/** The whole report: what a reader needs to reproduce and judge the numbers. */
export function markdownReport(info: RunInfo, results: ScenarioResult[], warnings: string[]): string {
  const { load } = info;
  const lines = [
    '# OLO benchmark: latest run',
    '',
    `Run ${info.startedAt.toISOString()} at revision ${revision()}.`,
    '',
    `Command: \`${info.command}\` (from the repository root).`,
    '',
    `Load: autocannon, ${load.connections} connections, ${load.durationSeconds} s per scenario after a ${load.warmupSeconds} s warm-up, no pipelining; ` +
      'the server runs as its own process (`node src/main.ts`, NODE_ENV=production, LOG_LEVEL=warn) on the same machine as the load generator and PostgreSQL.',
    '',
    `Data: ${number(info.database.users)} users in the database (the seeded demo accounts).`,
    '',
    resultsTable(results),
    '',
    "requests/s is successful responses divided by the measured time; latencies are autocannon's (1 ms resolution) over successful responses; " +
      'errors counts connection errors, time-outs and wrong bodies (GraphQL errors); ' +
      'CPU is the share of one core used during the measured run by the server process, by PostgreSQL (embedded only: postmaster and backends) ' +
      'and by the load generator (autocannon, in the benchmark process); 200 % is both cores.',
    '',
    'Machine:',
    '',
    ...machineLines(info),
    '',
  ];
  if (warnings.length > 0) {
    lines.push(`The server logged ${warnings.length} warning(s) or error(s) during the run; the first:`, '');
    lines.push('```', ...warnings.slice(0, 5).map((w) => w.slice(0, 400)), '```', '');
  }
  return lines.join('\n');
}
