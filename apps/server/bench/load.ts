import autocannon, { type Result } from 'autocannon';
import { processCpuSeconds, processTreeCpuSeconds } from './cpu.ts';

/** One kind of request hammered by every connection for the whole run. */
export type Scenario = {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Whether a response body is the expected success (GraphQL errors come with status 200). */
  verifyBody: (body: string) => boolean;
};

export type LoadOptions = { durationSeconds: number; warmupSeconds: number; connections: number };

export type ScenarioResult = {
  scenario: Scenario;
  requestsPerSecond: number;
  requests: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  badBodies: number;
  statusCodes: Record<string, number>;
  /** Share of one core used during the measured run (1 = 100 %), where /proc tells. */
  serverCpu: number | undefined;
  postgresCpu: number | undefined;
  loadGeneratorCpu: number | undefined;
  /** The first connection error and the first unexpected body seen, for the failure message. */
  firstError: string | undefined;
  firstBadBody: string | undefined;
};

const json = (value: unknown) => JSON.stringify(value);

/** The scenarios of `npm run bench`, from the cheapest route to an authenticated GraphQL query. */
export function scenarios(token: string): Scenario[] {
  const graphqlPost = (query: string, headers: Record<string, string> = {}) => ({
    method: 'POST' as const,
    path: '/graphql',
    headers: { 'content-type': 'application/json', ...headers },
    body: json({ query }),
  });
  return [
    {
      name: 'GET /healthz (bare Fastify route)',
      method: 'GET',
      path: '/healthz',
      verifyBody: (body) => body === '{"status":"ok"}',
    },
    {
      name: 'GraphQL `{ serverInfo { version time } }`, anonymous',
      ...graphqlPost('{ serverInfo { version time } }'),
      verifyBody: (body) => body.startsWith('{"data":{"serverInfo":{') && !body.includes('"errors"'),
    },
    {
      // The same query with a token: the difference to the anonymous one is the cost of auth.
      name: 'GraphQL `{ serverInfo { version time } }`, bearer token',
      ...graphqlPost('{ serverInfo { version time } }', { authorization: `Bearer ${token}` }),
      verifyBody: (body) => body.startsWith('{"data":{"serverInfo":{') && !body.includes('"errors"'),
    },
    {
      name: 'GraphQL `{ me { id roles activeRole } }`, bearer token',
      ...graphqlPost('{ me { id roles activeRole } }', { authorization: `Bearer ${token}` }),
      verifyBody: (body) => body.startsWith('{"data":{"me":{"id":') && !body.includes('"errors"'),
    },
  ];
}

/** One request by fetch before the load: a broken scenario fails at once with the server's answer. */
export async function checkScenario(baseUrl: string, scenario: Scenario): Promise<void> {
  const init: RequestInit = { method: scenario.method, signal: AbortSignal.timeout(30_000) };
  if (scenario.headers) init.headers = scenario.headers;
  if (scenario.body !== undefined) init.body = scenario.body;
  const response = await fetch(`${baseUrl}${scenario.path}`, init);
  const body = await response.text();
  if (!response.ok || !scenario.verifyBody(body)) {
    throw new Error(
      `${scenario.name}: expected a successful answer, got ${response.status}: ${body.slice(0, 500)}`,
    );
  }
}

async function fire(
  baseUrl: string,
  scenario: Scenario,
  durationSeconds: number,
  connections: number,
): Promise<{ result: Result; firstError: string | undefined; firstBadBody: string | undefined }> {
  let firstError: string | undefined;
  let firstBadBody: string | undefined;
  const instance = autocannon({
    url: `${baseUrl}${scenario.path}`,
    title: scenario.name,
    method: scenario.method,
    headers: scenario.headers ?? {},
    ...(scenario.body === undefined ? {} : { body: scenario.body }),
    connections,
    duration: durationSeconds,
    timeout: 10,
    verifyBody: scenario.verifyBody,
  });
  instance.on('reqError', (error) => {
    firstError ??= error.message;
  });
  instance.on('reqMismatch', (body) => {
    firstBadBody ??= body.slice(0, 500);
  });
  const result = await instance;
  return { result, firstError, firstBadBody };
}

type Cpu = { server: number | undefined; postgres: number | undefined; loadGenerator: number | undefined };

function summarise(
  scenario: Scenario,
  run: Awaited<ReturnType<typeof fire>>,
  warmup: Awaited<ReturnType<typeof fire>> | undefined,
  cpu: Cpu,
): ScenarioResult {
  const { result } = run;
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count;
  return {
    scenario,
    // Successful responses over the measured wall time: the mean of autocannon's per-second
    // samples was seen to disagree with its own totals when a sample tick came late.
    requestsPerSecond: result.duration > 0 ? result['2xx'] / result.duration : 0,
    requests: result['2xx'],
    p50: result.latency.p50,
    p99: result.latency.p99,
    // Failures during warm-up count too: a run that only works once warm is still broken.
    non2xx: result.non2xx + (warmup?.result.non2xx ?? 0),
    errors: result.errors + (warmup?.result.errors ?? 0),
    badBodies: result.mismatches + (warmup?.result.mismatches ?? 0),
    statusCodes,
    serverCpu: cpu.server,
    postgresCpu: cpu.postgres,
    loadGeneratorCpu: cpu.loadGenerator,
    firstError: warmup?.firstError ?? run.firstError,
    firstBadBody: warmup?.firstBadBody ?? run.firstBadBody,
  };
}

/** A short warm-up (results discarded, failures kept), then the measured run. */
export async function runScenario(
  baseUrl: string,
  scenario: Scenario,
  options: LoadOptions,
  pids: { server: number | undefined; postgres: number | undefined },
): Promise<ScenarioResult> {
  const warmup =
    options.warmupSeconds > 0
      ? await fire(baseUrl, scenario, options.warmupSeconds, options.connections)
      : undefined;
  const before = {
    server: processCpuSeconds(pids.server),
    postgres: processTreeCpuSeconds(pids.postgres),
    self: processCpuSeconds(process.pid),
  };
  const started = performance.now();
  const run = await fire(baseUrl, scenario, options.durationSeconds, options.connections);
  const seconds = (performance.now() - started) / 1000;
  const share = (start: number | undefined, end: number | undefined) =>
    start === undefined || end === undefined ? undefined : (end - start) / seconds;
  const cpu = {
    server: share(before.server, processCpuSeconds(pids.server)),
    postgres: share(before.postgres, processTreeCpuSeconds(pids.postgres)),
    loadGenerator: share(before.self, processCpuSeconds(process.pid)),
  };
  return summarise(scenario, run, warmup, cpu);
}

export function failed(result: ScenarioResult): boolean {
  return result.non2xx > 0 || result.errors > 0 || result.badBodies > 0 || result.requests === 0;
}
