/** Small helpers every benchmark script shares. */

/** An integer setting from the environment, or `fallback` when unset; anything else stops the run. */
export function integerFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}`);
  return value;
}

/** The nearest-rank percentile of ascending `sorted` values (NaN for none). */
export function percentile(sorted: number[], p: number): number {
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
}

/** Runs `work` over `items` with at most `limit` at once. */
export async function inParallel<T>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(item);
      }
    }),
  );
}

/**
 * Undo steps (servers, databases, temp files) run newest first by `cleanUp`, also on Ctrl-C, so an
 * interrupted run leaves nothing behind. A failing step does not stop the others.
 */
export function cleanupStack(): { cleanups: Array<() => Promise<unknown>>; cleanUp: () => Promise<void> } {
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanUp = async () => {
    for (let step = cleanups.pop(); step; step = cleanups.pop()) await step().catch(() => {});
  };
  return { cleanups, cleanUp };
}
