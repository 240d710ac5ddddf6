import { describe, expect, it } from 'vitest';
import { manualClock } from '../clock.ts';
import { TtlCache } from './ttl-cache.ts';

describe('TtlCache', () => {
  it('loads once for concurrent misses and again after expiry', async () => {
    const clock = manualClock();
    const cache = new TtlCache<number>({ ttlMs: 1000, maxEntries: 10, clock });
    let loads = 0;
    const load = async () => {
      loads++;
      await Promise.resolve();
      return loads;
    };
    const values = await Promise.all([1, 2, 3].map(() => cache.getOrLoad('k', load)));
    expect(values).toEqual([1, 1, 1]);
    expect(loads).toBe(1);
    clock.advance(999);
    expect(await cache.getOrLoad('k', load)).toBe(1);
    clock.advance(2);
    expect(await cache.getOrLoad('k', load)).toBe(2);
  });

  it('honours an earlier expiry given by the value', async () => {
    const clock = manualClock();
    const cache = new TtlCache<{ until: number }>({ ttlMs: 60_000, maxEntries: 10, clock });
    const until = clock.now().getTime() + 100;
    await cache.getOrLoad(
      'k',
      async () => ({ until }),
      (v) => v.until,
    );
    clock.advance(101);
    let reloaded = false;
    await cache.getOrLoad('k', async () => {
      reloaded = true;
      return { until: 0 };
    });
    expect(reloaded).toBe(true);
  });

  it('does not keep a value whose load was overtaken by a delete', async () => {
    const cache = new TtlCache<string>({ ttlMs: 60_000, maxEntries: 10, clock: manualClock() });
    let release: (value: string) => void = () => {};
    const slow = cache.getOrLoad('session', () => new Promise<string>((resolve) => (release = resolve)));
    cache.delete('session');
    release('active');
    expect(await slow).toBe('active');
    expect(await cache.getOrLoad('session', async () => 'revoked')).toBe('revoked');
  });

  it('evicts the oldest entry when full and does not cache failures', async () => {
    const cache = new TtlCache<string>({ ttlMs: 60_000, maxEntries: 2, clock: manualClock() });
    await cache.getOrLoad('a', async () => 'a1');
    await cache.getOrLoad('b', async () => 'b1');
    await cache.getOrLoad('c', async () => 'c1');
    expect(await cache.getOrLoad('a', async () => 'a2')).toBe('a2');
    expect(await cache.getOrLoad('c', async () => 'c2')).toBe('c1');
    await expect(cache.getOrLoad('x', async () => Promise.reject(new Error('db down')))).rejects.toThrow(
      'db down',
    );
    expect(await cache.getOrLoad('x', async () => 'x1')).toBe('x1');
  });
});
