import { z } from 'zod';

/**
 * Tariffs are data: per call kind and side (the payer's charges, the earner's credits), optionally
 * per cohort. Everything here is pure: no clock, no database.
 */
export const CALL_KINDS = ['direct', 'roulette', 'prerecorded'] as const;
export type CallKind = (typeof CALL_KINDS)[number];

/** One charge point: at `second` of connected time, `coins` change hands. */
export type Checkpoint = { second: number; coins: bigint };

/**
 * A side's schedule: explicit checkpoints (strictly increasing seconds), then, when `repeat` is set,
 * `repeat.coins` every `repeat.everySeconds` after the last explicit checkpoint, for as long as the
 * call lasts. Without `repeat` the schedule ends at its last checkpoint.
 */
export type Schedule = { checkpoints: Checkpoint[]; repeat: { everySeconds: number; coins: bigint } | null };

export type Tariff = { payer: Schedule; earner: Schedule };

/** A charge point of the whole tariff: both sides' schedules merged on one timeline, numbered from 0. */
export type TariffCheckpoint = { n: number; second: number; payer: bigint; earner: bigint };

// Bounds that keep every total of a realistic call well inside a GraphQL Int and a bigint column.
export const MAX_CHECKPOINT_COINS = 100_000;
export const MAX_CHECKPOINTS = 100;
export const MAX_SCHEDULE_SECOND = 24 * 3600;

const coins = z
  .union([z.bigint(), z.number().int(), z.string().regex(/^\d{1,9}$/)])
  .transform((value) => BigInt(value))
  .refine((value) => value >= 0n && value <= BigInt(MAX_CHECKPOINT_COINS), {
    message: `coins must be between 0 and ${MAX_CHECKPOINT_COINS}`,
  });

const second = z.number().int().min(0).max(MAX_SCHEDULE_SECOND);

export const scheduleSchema = z
  .object({
    checkpoints: z.array(z.object({ second, coins })).max(MAX_CHECKPOINTS),
    repeat: z
      .object({ everySeconds: z.number().int().min(1).max(MAX_SCHEDULE_SECOND), coins })
      .nullable()
      .default(null),
  })
  .superRefine((schedule, ctx) => {
    for (let i = 1; i < schedule.checkpoints.length; i++) {
      const previous = schedule.checkpoints[i - 1];
      const current = schedule.checkpoints[i];
      if (previous && current && current.second <= previous.second) {
        ctx.addIssue({
          code: 'custom',
          message: 'checkpoint seconds must be strictly increasing',
          path: ['checkpoints', i, 'second'],
        });
      }
    }
    if (schedule.repeat && schedule.checkpoints.length === 0) {
      ctx.addIssue({
        code: 'custom',
        message: 'a repeat rule starts after the last checkpoint, so it needs at least one checkpoint',
        path: ['repeat'],
      });
    }
  });

export const tariffSchema = z
  .object({ payer: scheduleSchema, earner: scheduleSchema })
  .refine((t) => t.payer.checkpoints.length + t.earner.checkpoints.length > 0, {
    message: 'a tariff needs at least one checkpoint',
    path: ['payer', 'checkpoints'],
  });

/** Validates a tariff (e.g. an admin's input): throws a ZodError naming the first problem. */
export function parseTariff(input: unknown): Tariff {
  return tariffSchema.parse(input);
}

/** The `n`-th checkpoint of one side's schedule (0-based), or undefined after its end. */
export function checkpointAt(schedule: Schedule, n: number): Checkpoint | undefined {
  if (!Number.isInteger(n) || n < 0) return undefined;
  const explicit = schedule.checkpoints[n];
  if (explicit) return explicit;
  const last = schedule.checkpoints.at(-1);
  if (!schedule.repeat || !last) return undefined;
  const k = n - schedule.checkpoints.length + 1;
  return { second: last.second + k * schedule.repeat.everySeconds, coins: schedule.repeat.coins };
}

/**
 * Both sides' checkpoints in time order, merged: a second in either schedule is one tariff checkpoint,
 * carrying what each side gets there (0 for the side without a checkpoint at that second).
 */
export function* tariffCheckpoints(tariff: Tariff): Generator<TariffCheckpoint> {
  let i = 0;
  let j = 0;
  for (let n = 0; ; n++) {
    const a = checkpointAt(tariff.payer, i);
    const b = checkpointAt(tariff.earner, j);
    if (!a && !b) return;
    const at = Math.min(a?.second ?? Number.POSITIVE_INFINITY, b?.second ?? Number.POSITIVE_INFINITY);
    const payer = a && a.second === at ? a.coins : 0n;
    const earner = b && b.second === at ? b.coins : 0n;
    if (a && a.second === at) i++;
    if (b && b.second === at) j++;
    yield { n, second: at, payer, earner };
  }
}

/** The merged timeline from checkpoint `n` on. */
export function* checkpointsFrom(tariff: Tariff, n: number): Generator<TariffCheckpoint> {
  for (const checkpoint of tariffCheckpoints(tariff)) if (checkpoint.n >= n) yield checkpoint;
}

/**
 * The first checkpoint from `fromN` on that a wallet of `balance` coins cannot cover (its payer
 * charges and those before it, from `fromN`, exceed `balance`), looking no further than
 * `horizonSecond`; undefined when every checkpoint up to there is covered.
 */
export function firstUnaffordable(
  tariff: Tariff,
  fromN: number,
  balance: bigint,
  horizonSecond: number,
): { checkpoint: TariffCheckpoint; needed: bigint } | undefined {
  let needed = 0n;
  for (const checkpoint of checkpointsFrom(tariff, fromN)) {
    if (checkpoint.second > horizonSecond) return undefined;
    needed += checkpoint.payer;
    if (needed > balance) return { checkpoint, needed };
  }
  return undefined;
}

/** The `n`-th checkpoint of the merged timeline, or undefined after the tariff's end. */
export function tariffCheckpointAt(tariff: Tariff, n: number): TariffCheckpoint | undefined {
  if (!Number.isInteger(n) || n < 0) return undefined;
  for (const checkpoint of tariffCheckpoints(tariff)) {
    if (checkpoint.n === n) return checkpoint;
  }
  return undefined;
}

export type Charges = { payer: bigint; earner: bigint; checkpoints: number };

/** What each side has been charged/credited in total once `seconds` of connected time are reached (inclusive). */
export function chargesUpTo(tariff: Tariff, seconds: number): Charges {
  const total: Charges = { payer: 0n, earner: 0n, checkpoints: 0 };
  for (const checkpoint of tariffCheckpoints(tariff)) {
    if (checkpoint.second > seconds) break;
    total.payer += checkpoint.payer;
    total.earner += checkpoint.earner;
    total.checkpoints++;
  }
  return total;
}

export type TariffPreview = {
  seconds: number;
  payer: bigint;
  earner: bigint;
  /** The platform's share: what the payer pays minus what the earner gets (negative when it subsidises). */
  platform: bigint;
  checkpoints: number;
  /** The first checkpoint after `seconds`: what continuing the call would cost next. */
  next: TariffCheckpoint | null;
};

/** "What do both sides get for a call of `seconds` seconds." */
export function previewCall(tariff: Tariff, seconds: number): TariffPreview {
  const total = chargesUpTo(tariff, seconds);
  const next = tariffCheckpointAt(tariff, total.checkpoints) ?? null;
  return {
    seconds,
    payer: total.payer,
    earner: total.earner,
    platform: total.payer - total.earner,
    checkpoints: total.checkpoints,
    next,
  };
}

/** JSON form for storage and the API: coins as decimal strings, since JSON numbers are not bigints. */
export type StoredSchedule = {
  checkpoints: Array<{ second: number; coins: string }>;
  repeat: { everySeconds: number; coins: string } | null;
};

export function toStoredSchedule(schedule: Schedule): StoredSchedule {
  return {
    checkpoints: schedule.checkpoints.map((c) => ({ second: c.second, coins: c.coins.toString() })),
    repeat: schedule.repeat
      ? { everySeconds: schedule.repeat.everySeconds, coins: schedule.repeat.coins.toString() }
      : null,
  };
}

export function fromStoredSchedule(stored: unknown): Schedule {
  return scheduleSchema.parse(stored);
}

/** The seed's roulette tariff: the user pays 9 at connect, 60 at 20 s, 60 at 60 s and 60 every further minute; the streamer gets 30 at 20 s, 30 at 60 s and 30 every further minute. */
export const SEED_ROULETTE_TARIFF: Tariff = {
  payer: {
    checkpoints: [
      { second: 0, coins: 9n },
      { second: 20, coins: 60n },
      { second: 60, coins: 60n },
    ],
    repeat: { everySeconds: 60, coins: 60n },
  },
  earner: {
    checkpoints: [
      { second: 20, coins: 30n },
      { second: 60, coins: 30n },
    ],
    repeat: { everySeconds: 60, coins: 30n },
  },
};
