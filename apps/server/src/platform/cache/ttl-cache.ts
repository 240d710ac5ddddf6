import type { Clock } from '../clock.ts';

/**
 * A small bounded in-process cache for hot, short-lived facts (session active, account roles,
 * verified tokens). Entries expire after `ttlMs` (or their own `expiresAt`); the oldest entry goes
 * first when full. Concurrent misses for one key share a single load.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly loading = new Map<string, Promise<V>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly clock: Clock;

  constructor(options: { ttlMs: number; maxEntries: number; clock: Clock }) {
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries;
    this.clock = options.clock;
  }

  async getOrLoad(key: string, load: () => Promise<V>, expiresAt?: (value: V) => number): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > this.clock.now().getTime()) return hit.value;
    const pending = this.loading.get(key);
    if (pending) return pending;
    // A delete() while loading (e.g. a sign-out) must win: the stale result is returned but not kept.
    const loaded: Promise<V> = load().then(
      (value) => {
        if (this.loading.get(key) !== loaded) return value;
        this.loading.delete(key);
        const now = this.clock.now().getTime();
        this.set(key, value, Math.min(now + this.ttlMs, expiresAt?.(value) ?? Number.POSITIVE_INFINITY));
        return value;
      },
      (error: unknown) => {
        if (this.loading.get(key) === loaded) this.loading.delete(key);
        throw error;
      },
    );
    this.loading.set(key, loaded);
    return loaded;
  }

  private set(key: string, value: V, expiresAt: number): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expiresAt });
  }

  delete(key: string): void {
    this.entries.delete(key);
    this.loading.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.loading.clear();
  }
}
