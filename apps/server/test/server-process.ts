import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../src/platform/net/ports.ts';

/** The repository root: the server is started from there, as `npm start` does. */
const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');
const MAIN = 'apps/server/src/main.ts';
const MAX_OUTPUT_CHARS = 2_000_000;

export type ServerExit = { code: number | null; signal: NodeJS.Signals | null };

export type ServerProcess = {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  url: string;
  port: number;
  process: ChildProcess;
  /** Everything the process wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** Polls /readyz until it answers 200; throws (with the output) if the process exits or time runs out. */
  waitForReady(timeoutMs?: number): Promise<void>;
  /** Sends `signal` (SIGTERM by default); SIGKILLs after `killAfterMs`. Resolves when the process is gone. */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<ServerExit>;
  /** Settles when the process has exited and its output is closed. */
  exited: Promise<ServerExit>;
};

const running = new Set<ChildProcess>();
// A crashed test run must not leave servers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts the real server (`node apps/server/src/main.ts`) as a child process on a free loopback port.
 * `env` is merged over the test process's environment and these defaults: HOST, PORT, PUBLIC_URL,
 * LOG_LEVEL=warn. Pass DATABASE_URL (e.g. from createTestDatabase()): without it the server starts
 * its embedded PostgreSQL in the repository's .data directory.
 */
export async function startServerProcess(
  options: { env?: Record<string, string>; waitForReady?: boolean; readyTimeoutMs?: number } = {},
): Promise<ServerProcess> {
  const givenPort = options.env?.PORT;
  const port = givenPort ? Number(givenPort) : await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [MAIN], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: url,
      LOG_LEVEL: 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);

  let captured = '';
  const capture = (chunk: Buffer) => {
    captured += chunk.toString('utf8');
    if (captured.length > MAX_OUTPUT_CHARS) captured = captured.slice(-MAX_OUTPUT_CHARS);
  };
  child.stdout?.on('data', capture);
  child.stderr?.on('data', capture);

  let exit: ServerExit | undefined;
  const exited = new Promise<ServerExit>((resolve) => {
    const settle = (result: ServerExit) => {
      running.delete(child);
      exit ??= result;
      resolve(exit);
    };
    child.once('close', (code, signal) => settle({ code, signal }));
    child.once('error', (error) => {
      captured += `\n[spawn error] ${error.message}\n`;
      settle({ code: null, signal: null });
    });
  });

  const output = () => captured;

  const waitForReady = async (timeoutMs = options.readyTimeoutMs ?? 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exit) {
        throw new Error(
          `server exited (code ${exit.code}, signal ${exit.signal}) before it was ready:\n${captured}`,
        );
      }
      try {
        const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
        await response.body?.cancel();
        if (response.status === 200) return;
      } catch {
        // not listening yet
      }
      await delay(100);
    }
    throw new Error(`server was not ready within ${timeoutMs} ms:\n${captured}`);
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 20_000) => {
    if (exit) return exit;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  const server: ServerProcess = { url, port, process: child, output, waitForReady, stop, exited };
  if (options.waitForReady ?? true) {
    try {
      await waitForReady();
    } catch (error) {
      await stop('SIGKILL');
      throw error;
    }
  }
  return server;
}
