import { z } from 'zod';
import { AppError, conflict, forbidden } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { COUNTRY_CODES, LANGUAGE_CODES } from '../profile/iso-codes.ts';
import type { CallRecord } from './call.repository.ts';
import type { CallService } from './call.service.ts';
import type { CallEngine } from './call-engine.ts';
import type { BlockCheck, CallParties } from './call-party.ts';
import type { RouletteEntry, RouletteRepository } from './roulette.repository.ts';
import type { RouletteSide } from './roulette.tables.ts';

/** An account's own public languages and country (the profile domain answers it). */
export type RouletteProfiles = {
  profileOf(userId: string): Promise<{ languages: readonly string[]; country: string | null }>;
};
export const noRouletteProfiles: RouletteProfiles = {
  profileOf: async () => ({ languages: [], country: null }),
};

export type RoulettePreferences = { language: string | null; country: string | null };

export type RoundResult = { matched: number; dropped: number };

export type RouletteStatus = {
  state: 'idle' | 'waiting' | 'matched';
  side: RouletteSide | null;
  waitingSince: Date | null;
  preferences: RoulettePreferences;
  /** While waiting with a preference: when it is dropped. */
  widensAt: Date | null;
  /** The matched call (live or already ended), while matched. */
  call: CallRecord | null;
};

const preferencesSchema = z
  .object({
    language: z
      .string()
      .refine((l) => LANGUAGE_CODES.has(l), 'must be an ISO 639-1 code in lower case, e.g. en')
      .nullish(),
    country: z
      .string()
      .refine((c) => COUNTRY_CODES.has(c), 'must be an ISO 3166-1 alpha-2 code in capitals, e.g. DE')
      .nullish(),
  })
  .nullish();

const NO_PREFERENCES: RoulettePreferences = { language: null, country: null };
/** Pairs one transaction may turn down (blocked, or the call could not start) before it gives up. */
const MAX_ATTEMPTS_PER_MATCH = 20;
/** Matches one round makes at most, so a round (a cron tick) stays short. */
const MAX_MATCHES_PER_ROUND = 500;

/**
 * Roulette: users and available streamers wait in one pool and are matched in pairs, longest
 * waiting first on both sides, never across a block, not again right after a skip, with optional
 * language and country preferences that are dropped after a while. A match is a roulette call
 * started in the matching transaction. See docs/roulette.md.
 */
export class RouletteService {
  private readonly engine: CallEngine;
  private readonly calls: CallService;
  private readonly repo: RouletteRepository;
  private readonly parties: CallParties;
  private readonly blocks: BlockCheck;
  private readonly profiles: RouletteProfiles;
  /** This process's round in progress, and whether another was asked for meanwhile. */
  private running: Promise<RoundResult> | null = null;
  private again = false;

  constructor(deps: {
    engine: CallEngine;
    calls: CallService;
    repo: RouletteRepository;
    parties: CallParties;
    blocks: BlockCheck;
    profiles: RouletteProfiles;
  }) {
    this.engine = deps.engine;
    this.calls = deps.calls;
    this.repo = deps.repo;
    this.parties = deps.parties;
    this.blocks = deps.blocks;
    this.profiles = deps.profiles;
  }

  private get d() {
    return this.engine.deps;
  }

  /**
   * Enters the pool (or, already waiting, changes preferences and keeps the place), then tries to
   * match at once. A user must afford the roulette tariff's first stretch; nobody in a live call joins.
   */
  async join(userId: string, preferences?: Partial<RoulettePreferences> | null): Promise<RouletteStatus> {
    const wanted = parseOrThrow(preferencesSchema, preferences, 'preferences');
    await this.enter(userId, { language: wanted?.language ?? null, country: wanted?.country ?? null });
    await this.matchQuietly();
    return this.status(userId);
  }

  /**
   * "Next": hangs up the current roulette call, if any (the pair then cools down), and waits again,
   * with new preferences or else the ones of the last wait.
   */
  async next(userId: string, preferences?: Partial<RoulettePreferences> | null): Promise<RouletteStatus> {
    const wanted = parseOrThrow(preferencesSchema, preferences, 'preferences');
    const live = await this.calls.activeCallOf(userId);
    if (live) {
      if (live.kind !== 'roulette') throw conflict('You are in a call that is not a roulette call');
      await this.calls.hangUp(userId, live.id);
    }
    const previous = await this.repo.find(userId);
    const keep = previous
      ? { language: previous.wantLanguage, country: previous.wantCountry }
      : NO_PREFERENCES;
    await this.enter(
      userId,
      wanted ? { language: wanted.language ?? null, country: wanted.country ?? null } : keep,
    );
    await this.matchQuietly();
    return this.status(userId);
  }

  /** Leaves the pool. A roulette call in progress goes on (hangUpCall ends it). */
  async leave(userId: string): Promise<RouletteStatus> {
    await this.repo.remove(userId);
    return this.status(userId);
  }

  /** Keeps the entry alive; silent past roulette.heartbeat_timeout_seconds it is dropped. */
  async heartbeat(userId: string): Promise<RouletteStatus> {
    const entry = await this.repo.heartbeat(userId, this.engine.now());
    return this.describe(entry);
  }

  async status(userId: string): Promise<RouletteStatus> {
    return this.describe(await this.repo.find(userId));
  }

  /**
   * Drops silent entries, then matches pairs one transaction each until none is left (or the round's
   * cap). Safe to run in several processes at once: each pair's rows are locked, others skip them.
   * Within a process one round runs at a time (a matching transaction also borrows a second pool
   * connection, so many at once could exhaust the pool); asked for during a round, it runs once more
   * afterwards and the caller waits for that.
   */
  matchRound(): Promise<RoundResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const run = async () => {
      const total: RoundResult = { matched: 0, dropped: 0 };
      try {
        do {
          this.again = false;
          const round = await this.round();
          total.matched += round.matched;
          total.dropped += round.dropped;
        } while (this.again);
        return total;
      } finally {
        this.running = null;
      }
    };
    this.running = run();
    return this.running;
  }

  private async round(): Promise<RoundResult> {
    const timeout = await this.d.settings.get('roulette.heartbeat_timeout_seconds');
    const dropped = await this.repo.dropSilent(new Date(this.engine.now().getTime() - timeout * 1000));
    if (!(await this.d.settings.get('feature.roulette_enabled')))
      return { matched: 0, dropped: dropped.length };
    const provider = await this.d.selector.choose();
    let matched = 0;
    while (matched < MAX_MATCHES_PER_ROUND && (await this.matchOne(provider.name))) matched++;
    return { matched, dropped: dropped.length };
  }

  /** One match in one transaction: the call, announced to both sides after the commit. */
  async matchOne(providerName: string): Promise<CallRecord | undefined> {
    const [timeout, cooldown, widen] = await Promise.all([
      this.d.settings.get('roulette.heartbeat_timeout_seconds'),
      this.d.settings.get('roulette.cooldown_seconds'),
      this.d.settings.get('roulette.preference_widen_seconds'),
    ]);
    return this.engine.change(async (tx, after) => {
      const now = this.engine.now().getTime();
      const exclude: Array<{ userId: string; streamerId: string }> = [];
      for (let attempt = 0; attempt < MAX_ATTEMPTS_PER_MATCH; attempt++) {
        const pair = await this.repo.lockNextPair(tx, {
          aliveSince: new Date(now - timeout * 1000),
          widenBefore: new Date(now - widen * 1000),
          coolSince: new Date(now - cooldown * 1000),
          exclude,
        });
        if (!pair) return undefined;
        if (await this.blocks(pair.userId, pair.streamerId)) {
          exclude.push(pair);
          continue;
        }
        const call = await this.calls.startAgreed(tx, after, {
          userId: pair.userId,
          streamerId: pair.streamerId,
          kind: 'roulette',
          providerName,
        });
        if (call) {
          await this.repo.markMatched(tx, [pair.userId, pair.streamerId], call.id, this.engine.now());
          return call;
        }
        // Not started: the user can no longer afford the first stretch (they leave the pool), or a
        // side was just taken by another call (that commit is visible to the next lookup).
        const afford = await this.d.billing.canStart(pair.userId, 'roulette', tx);
        if (!afford.allowed) await this.repo.remove(pair.userId, tx);
        exclude.push(pair);
      }
      return undefined;
    });
  }

  private async enter(userId: string, wanted: RoulettePreferences): Promise<RouletteEntry> {
    if (!(await this.d.settings.get('feature.roulette_enabled'))) throw forbidden('Roulette is turned off');
    const account = await this.parties.describe(userId);
    if (account?.status !== 'active') throw forbidden('Your account cannot make calls');
    const side: RouletteSide | null = account.roles.includes('streamer')
      ? 'streamer'
      : account.roles.includes('user')
        ? 'user'
        : null;
    if (!side) throw forbidden('Roulette is for users and streamers');
    if (await this.calls.activeCallOf(userId)) throw conflict('You are already in a call');
    if (side === 'user') {
      const afford = await this.d.billing.canStart(userId, 'roulette');
      if (!afford.allowed) {
        throw new AppError('INSUFFICIENT_FUNDS', 'Not enough coins for roulette', {
          needed: afford.needed.toString(),
          balance: afford.balance.toString(),
        });
      }
    }
    const own = await this.profiles.profileOf(userId);
    return this.repo.enter({
      userId,
      side,
      wantLanguage: wanted.language,
      wantCountry: wanted.country,
      languages: [...own.languages],
      country: own.country,
      at: this.engine.now(),
    });
  }

  /** A join has been recorded whatever matching does; a failed round is the cron task's to retry. */
  private async matchQuietly(): Promise<void> {
    await this.matchRound().catch((error: unknown) =>
      this.d.logger.warn({ err: error }, 'roulette: matching after a join failed'),
    );
  }

  private async describe(entry: RouletteEntry | undefined): Promise<RouletteStatus> {
    if (!entry) {
      return {
        state: 'idle',
        side: null,
        waitingSince: null,
        preferences: NO_PREFERENCES,
        widensAt: null,
        call: null,
      };
    }
    const preferences = { language: entry.wantLanguage, country: entry.wantCountry };
    if (entry.state === 'matched' && entry.callId) {
      const call = (await this.calls.find(entry.callId)) ?? null;
      return { state: 'matched', side: entry.side, waitingSince: null, preferences, widensAt: null, call };
    }
    const widen = await this.d.settings.get('roulette.preference_widen_seconds');
    const hasPreference = preferences.language !== null || preferences.country !== null;
    return {
      state: 'waiting',
      side: entry.side,
      waitingSince: entry.joinedAt,
      preferences,
      widensAt: hasPreference ? new Date(entry.joinedAt.getTime() + widen * 1000) : null,
      call: null,
    };
  }
}
