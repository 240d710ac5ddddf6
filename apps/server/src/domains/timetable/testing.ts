import { createLogger } from '../../platform/observability/logger.ts';

/** A logger for tests; TEST_LOG_LEVEL=debug shows what the job queue and scheduler do. */
export const testLogger = createLogger({
  logLevel: (process.env.TEST_LOG_LEVEL as 'silent' | undefined) ?? 'silent',
  env: 'test',
});

/**
 * Polls until `check` returns a value other than undefined/false, and returns it. Fails with
 * `what` after `timeoutMs`: a bound on waiting, never a claim about how fast something is.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
