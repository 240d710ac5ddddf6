import { z } from 'zod';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { AppError, notFound } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import { PROFILE_VIEW_THROTTLE_MS, profileViewed } from './interaction.events.ts';
import type { Interaction, InteractionRepository } from './interaction.repository.ts';
import { INTERACTION_KINDS, type InteractionKind } from './interaction.tables.ts';

const uuid = z.uuid('must be an account id');
const otherIdsSchema = z.array(uuid).max(500, 'at most 500 ids at once');
const kindsSchema = z.array(z.enum(INTERACTION_KINDS)).min(1).max(INTERACTION_KINDS.length);
const limitSchema = z.number().int().min(1).max(500);
const DAY_MS = 86_400_000;

/**
 * Who did what to whom: a read model of pairs, fed by other domains' events (see
 * interaction.consumers.ts). Gallery asks which profiles a user has seen, roulette which partners it
 * had lately, staff look at a user's pairs. Counts are eventually consistent with the events.
 */
export class InteractionService {
  private readonly deps: {
    db: Db;
    repo: InteractionRepository;
    users: { exists(id: string): Promise<boolean> };
    eventLog: EventLog;
    clock: Clock;
    /** The event log's retention (EVENT_LOG_RETENTION_DAYS): how long an event can be replayed. */
    retentionDays: number;
  };

  constructor(deps: InteractionService['deps']) {
    this.deps = deps;
  }

  /**
   * The client opened another account's profile. Emits `profile_viewed` unless this viewer's last
   * counted view of it is under 10 minutes old (the consumer applies the same rule, so a burst that
   * slips past this read-model check still counts once). True when the view was recorded.
   */
  async recordProfileView(viewerId: string, viewedId: string): Promise<boolean> {
    const id = parseOrThrow(uuid, viewedId, 'userId');
    if (id === viewerId)
      throw new AppError('BAD_USER_INPUT', 'Viewing your own profile is not recorded', { reason: 'SELF' });
    if (!(await this.deps.users.exists(id))) throw notFound('User');
    const now = this.deps.clock.now();
    const last = await this.deps.repo.lastAt(viewerId, id, 'profile_view');
    if (last && now.getTime() - last.getTime() < PROFILE_VIEW_THROTTLE_MS) return false;
    await withTransaction(this.deps.db, (tx) =>
      this.deps.eventLog.emit(tx, profileViewed.event({ viewerId, viewedId: id }, { userId: viewerId })),
    );
    return true;
  }

  /** Which of `otherIds` the user has seen: viewed their profile or been in a call with them. */
  async seenBy(
    userId: string,
    otherIds: readonly string[],
    kinds: readonly InteractionKind[] = ['profile_view', 'call'],
  ): Promise<Set<string>> {
    const ids = parseOrThrow(otherIdsSchema, otherIds, 'otherIds');
    return new Set(await this.deps.repo.touched(userId, ids, parseOrThrow(kindsSchema, kinds, 'kinds')));
  }

  /** The accounts the user had a connected call with since `since` (roulette: avoid recent pairs). */
  async recentPartners(
    userId: string,
    since: Date,
    limit = 100,
    kind: InteractionKind = 'call',
  ): Promise<string[]> {
    return this.deps.repo.recent(userId, kind, since, parseOrThrow(limitSchema, limit, 'limit'));
  }

  /** Staff: a user's pairs, both directions unless `otherId` narrows it, most recent first. */
  async adminInteractions(
    userId: string,
    otherId: string | null,
    kind: InteractionKind | null,
    limit = 200,
  ): Promise<Interaction[]> {
    return this.deps.repo.list({
      userId: parseOrThrow(uuid, userId, 'userId'),
      otherId: otherId === null ? null : parseOrThrow(uuid, otherId, 'otherId'),
      kind,
      bothDirections: true,
      limit: parseOrThrow(limitSchema, limit, 'first'),
    });
  }

  /**
   * Forgets the applied-event ids older than the event log's retention plus a day. An event that
   * old has normally been deleted from the log, so no replay can hand it over again; the extra day
   * covers the log's own nightly run coming later than this one. (An event kept past retention
   * because some consumer lagged, then replayed by a cursor reset, would count again: a read-model
   * counter one too high is the accepted price of a table that does not grow for ever.)
   */
  async pruneAppliedEvents(): Promise<{ deleted: number; cutoff: Date }> {
    const cutoff = new Date(this.deps.clock.now().getTime() - (this.deps.retentionDays + 1) * DAY_MS);
    return { deleted: await this.deps.repo.pruneApplied(cutoff), cutoff };
  }

  /** The interaction part of the account's data export: what it did to whom (others' acts are theirs). */
  async exportFor(userId: string): Promise<Record<string, unknown>> {
    const rows = await this.deps.repo.list({
      userId,
      otherId: null,
      kind: null,
      bothDirections: false,
      limit: 100_000,
    });
    return {
      interactions: rows.map((r) => ({
        otherId: r.otherId,
        kind: r.kind,
        count: r.count.toString(),
        firstAt: r.firstAt.toISOString(),
        lastAt: r.lastAt.toISOString(),
      })),
    };
  }
}
