import { describe, expect, it } from 'vitest';
import {
  chargesUpTo,
  checkpointAt,
  firstUnaffordable,
  parseTariff,
  previewCall,
  SEED_ROULETTE_TARIFF,
  type Tariff,
  tariffCheckpointAt,
  tariffCheckpoints,
} from './tariff.ts';

const take = (tariff: Tariff, count: number) => {
  const out = [];
  for (const checkpoint of tariffCheckpoints(tariff)) {
    if (out.length === count) break;
    out.push(checkpoint);
  }
  return out;
};

describe('tariff schedules', () => {
  it("charges the seed's roulette example: user 9/69/129/189, streamer 0/30/60/90 at 0/20/60/120 s", () => {
    const at = (seconds: number) => chargesUpTo(SEED_ROULETTE_TARIFF, seconds);
    expect([0, 20, 60, 120].map((s) => at(s).payer)).toEqual([9n, 69n, 129n, 189n]);
    expect([0, 20, 60, 120].map((s) => at(s).earner)).toEqual([0n, 30n, 60n, 90n]);
    // Between checkpoints nothing more is charged; the next minute adds 60/30.
    expect(at(119)).toEqual({ payer: 129n, earner: 60n, checkpoints: 3 });
    expect(at(180)).toEqual({ payer: 249n, earner: 120n, checkpoints: 5 });
  });

  it('numbers the checkpoints of one side, repeating after the last explicit one', () => {
    const payer = SEED_ROULETTE_TARIFF.payer;
    expect([0, 1, 2, 3, 4].map((n) => checkpointAt(payer, n))).toEqual([
      { second: 0, coins: 9n },
      { second: 20, coins: 60n },
      { second: 60, coins: 60n },
      { second: 120, coins: 60n },
      { second: 180, coins: 60n },
    ]);
    expect(checkpointAt(payer, -1)).toBeUndefined();
    expect(checkpointAt({ checkpoints: [{ second: 0, coins: 5n }], repeat: null }, 1)).toBeUndefined();
  });

  it('merges both sides on one timeline, 0 for the side without a checkpoint at that second', () => {
    expect(take(SEED_ROULETTE_TARIFF, 4)).toEqual([
      { n: 0, second: 0, payer: 9n, earner: 0n },
      { n: 1, second: 20, payer: 60n, earner: 30n },
      { n: 2, second: 60, payer: 60n, earner: 30n },
      { n: 3, second: 120, payer: 60n, earner: 30n },
    ]);
    const offset: Tariff = {
      payer: { checkpoints: [{ second: 0, coins: 10n }], repeat: { everySeconds: 30, coins: 10n } },
      earner: { checkpoints: [{ second: 45, coins: 4n }], repeat: null },
    };
    expect(take(offset, 5).map((c) => [c.second, c.payer, c.earner])).toEqual([
      [0, 10n, 0n],
      [30, 10n, 0n],
      [45, 0n, 4n],
      [60, 10n, 0n],
      [90, 10n, 0n],
    ]);
    expect(tariffCheckpointAt(offset, 2)).toEqual({ n: 2, second: 45, payer: 0n, earner: 4n });
  });

  it('ends a schedule without a repeat rule at its last checkpoint', () => {
    const finite = parseTariff({
      payer: {
        checkpoints: [
          { second: 0, coins: 5 },
          { second: 10, coins: 5 },
        ],
      },
      earner: { checkpoints: [] },
    });
    expect(take(finite, 10)).toHaveLength(2);
    expect(chargesUpTo(finite, 3600)).toEqual({ payer: 10n, earner: 0n, checkpoints: 2 });
    expect(tariffCheckpointAt(finite, 2)).toBeUndefined();
  });

  it('finds the first checkpoint a wallet cannot cover, within a horizon', () => {
    // From checkpoint 2 (60 s): 60 at 60 s, 60 at 120 s, 60 at 180 s…
    expect(firstUnaffordable(SEED_ROULETTE_TARIFF, 2, 130n, 600)).toEqual({
      checkpoint: { n: 4, second: 180, payer: 60n, earner: 30n },
      needed: 180n,
    });
    expect(firstUnaffordable(SEED_ROULETTE_TARIFF, 2, 130n, 150)).toBeUndefined();
    expect(firstUnaffordable(SEED_ROULETTE_TARIFF, 0, 8n, 0)?.checkpoint.n).toBe(0);
  });

  it('previews a call for both sides, with the platform share and the next checkpoint', () => {
    expect(previewCall(SEED_ROULETTE_TARIFF, 75)).toEqual({
      seconds: 75,
      payer: 129n,
      earner: 60n,
      platform: 69n,
      checkpoints: 3,
      next: { n: 3, second: 120, payer: 60n, earner: 30n },
    });
    // An earner checkpoint above the payer's makes the platform's share negative.
    const subsidised = parseTariff({
      payer: { checkpoints: [{ second: 0, coins: 1 }] },
      earner: { checkpoints: [{ second: 0, coins: 3 }] },
    });
    expect(previewCall(subsidised, 10)).toMatchObject({ payer: 1n, earner: 3n, platform: -2n, next: null });
  });

  it('parses the stored JSON form (coins as strings) into the same tariff', () => {
    const stored = {
      payer: {
        checkpoints: [
          { second: 0, coins: '9' },
          { second: 20, coins: '60' },
          { second: 60, coins: '60' },
        ],
        repeat: { everySeconds: 60, coins: '60' },
      },
      earner: {
        checkpoints: [
          { second: 20, coins: '30' },
          { second: 60, coins: '30' },
        ],
        repeat: { everySeconds: 60, coins: '30' },
      },
    };
    expect(parseTariff(stored)).toEqual(SEED_ROULETTE_TARIFF);
  });

  it.each([
    [
      'seconds not increasing',
      {
        checkpoints: [
          { second: 20, coins: 1 },
          { second: 20, coins: 1 },
        ],
      },
    ],
    ['a negative second', { checkpoints: [{ second: -1, coins: 1 }] }],
    ['negative coins', { checkpoints: [{ second: 0, coins: -5 }] }],
    ['fractional coins', { checkpoints: [{ second: 0, coins: 1.5 }] }],
    ['a repeat with no checkpoint', { checkpoints: [], repeat: { everySeconds: 60, coins: 1 } }],
    [
      'a repeat every 0 seconds',
      { checkpoints: [{ second: 0, coins: 1 }], repeat: { everySeconds: 0, coins: 1 } },
    ],
    ['too many coins', { checkpoints: [{ second: 0, coins: 100_001 }] }],
  ])('refuses a schedule with %s', (_what, payer) => {
    expect(() => parseTariff({ payer, earner: { checkpoints: [] } })).toThrow();
  });
});
