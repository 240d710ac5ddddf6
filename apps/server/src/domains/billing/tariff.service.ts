import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import { badInput, notFound } from '../../platform/errors/app-error.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { AuditActor, AuditLog } from '../mission_control/audit-log.ts';
import { tariffChanged } from './billing.events.ts';
import type { BillingRepository, TariffVersion } from './billing.repository.ts';
import {
  CALL_KINDS,
  type CallKind,
  parseTariff,
  previewCall,
  type Tariff,
  type TariffPreview,
  toStoredSchedule,
} from './tariff.ts';

/** The cohort tags of a user, most specific first (the panel domain provides them later). */
export type CohortTags = (userId: string) => Promise<string[]>;

export const noCohorts: CohortTags = async () => [];

const VERSION_CACHE_SIZE = 1_000;
const COHORT = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;

export function isCallKind(value: string): value is CallKind {
  return (CALL_KINDS as readonly string[]).includes(value);
}

/**
 * Versioned tariffs. Every edit adds a version (audited); nothing is ever changed in place, so a call
 * can always be billed by the version it started with.
 */
export class TariffService {
  private readonly deps: {
    db: Db;
    repo: BillingRepository;
    audit: AuditLog;
    eventLog: EventLog;
    clock: Clock;
    cohortTags: CohortTags;
  };

  private readonly versionCache = new Map<bigint, TariffVersion>();

  constructor(deps: TariffService['deps']) {
    this.deps = deps;
  }

  /** The current version of the default tariff and of every cohort tariff of `kind`. */
  current(kind: CallKind): Promise<TariffVersion[]> {
    return this.deps.repo.currentTariffs(kind);
  }

  /** Every version of one tariff, newest first (`cohort` null = the kind's default). */
  versions(kind: CallKind, cohort: string | null): Promise<TariffVersion[]> {
    return this.deps.repo.versions(kind, this.cohortKey(cohort));
  }

  /** A version by id. Versions never change, so each is read from the database once per process. */
  async versionById(id: bigint, tx?: Tx): Promise<TariffVersion | undefined> {
    const cached = this.versionCache.get(id);
    if (cached) return cached;
    const version = await this.deps.repo.versionById(id, tx);
    if (version) {
      if (this.versionCache.size >= VERSION_CACHE_SIZE) this.versionCache.clear();
      this.versionCache.set(id, version);
    }
    return version;
  }

  /**
   * The tariff that applies to `payerId` for a call of `kind` now: the first of the payer's cohort tags
   * that has a tariff of that kind wins; else the kind's default.
   */
  async resolveFor(payerId: string, kind: CallKind, tx?: Tx): Promise<TariffVersion> {
    const tags = (await this.deps.cohortTags(payerId)).filter((tag) => COHORT.test(tag));
    const candidates = await this.deps.repo.currentFor(kind, ['', ...tags], tx);
    for (const tag of tags) {
      const match = candidates.find((c) => c.cohort === tag);
      if (match) return match;
    }
    const fallback = candidates.find((c) => c.cohort === '');
    if (!fallback) throw notFound(`Tariff for ${kind} calls`);
    return fallback;
  }

  /** Adds a new version of the tariff of (kind, cohort), audited in the same transaction. */
  async setTariff(
    actor: AuditActor,
    input: { kind: CallKind; cohort: string | null; tariff: unknown; reason?: string | null },
  ): Promise<TariffVersion> {
    const cohort = this.cohortKey(input.cohort);
    let tariff: Tariff;
    try {
      tariff = parseTariff(input.tariff);
    } catch (error) {
      const issue = (error as { issues?: Array<{ message: string; path: PropertyKey[] }> }).issues?.[0];
      throw badInput(issue ? `${issue.path.join('.')}: ${issue.message}` : 'The tariff is not valid', {
        field: issue?.path.map(String).join('.') ?? 'tariff',
      });
    }
    return withTransaction(this.deps.db, async (tx) => {
      const { previous, created } = await this.deps.repo.insertVersion(tx, {
        kind: input.kind,
        cohort,
        tariff,
        createdBy: actor.principal?.userId ?? null,
        at: this.deps.clock.now(),
      });
      const describe = (v: TariffVersion) => ({
        version: v.version,
        tariffVersionId: v.id.toString(),
        payer: toStoredSchedule(v.tariff.payer),
        earner: toStoredSchedule(v.tariff.earner),
      });
      await this.deps.audit.record(tx, actor, {
        action: 'billing.tariff_set',
        targetType: 'tariff',
        targetId: `${input.kind}:${cohort || 'default'}`,
        before: previous ? describe(previous) : null,
        after: describe(created),
        reason: input.reason ?? null,
      });
      await this.deps.eventLog.emit(
        tx,
        tariffChanged.event({
          kind: input.kind,
          cohort: cohort || null,
          version: created.version,
          tariffVersionId: created.id.toString(),
        }),
      );
      return created;
    });
  }

  /**
   * What both sides get for a call of `seconds` seconds. With `version`, that version of the (kind,
   * cohort) tariff; with `cohort` alone, its current version; with neither, the tariff that applies to
   * `userId` (the caller) now.
   */
  async preview(input: {
    kind: CallKind;
    seconds: number;
    version?: number | null;
    cohort?: string | null;
    userId?: string | null;
  }): Promise<{ tariff: TariffVersion; preview: TariffPreview }> {
    const cohort = this.cohortKey(input.cohort ?? null);
    let tariff: TariffVersion | undefined;
    if (input.version != null) {
      tariff = await this.deps.repo.versionByNumber(input.kind, cohort, input.version);
    } else if (input.cohort != null || !input.userId) {
      [tariff] = await this.deps.repo.currentFor(input.kind, [cohort]);
    } else {
      tariff = await this.resolveFor(input.userId, input.kind);
    }
    if (!tariff) throw notFound('Tariff version');
    return { tariff, preview: previewCall(tariff.tariff, input.seconds) };
  }

  private cohortKey(cohort: string | null): string {
    if (cohort === null || cohort === '') return '';
    if (!COHORT.test(cohort)) {
      throw badInput('cohort must be a tag of lower-case letters, digits and _.:- (at most 64)', {
        field: 'cohort',
      });
    }
    return cohort;
  }
}
