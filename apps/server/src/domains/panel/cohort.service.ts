import { z } from 'zod';
import type { Principal } from '../../platform/auth/principal.ts';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import type { JsonObject } from '../../platform/db/database.types.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import { badInput, conflict, notFound } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import type { AuditActor, AuditLog } from '../mission_control/audit-log.ts';
import type { Cohort, CohortMember, CohortRepository, MembershipChange } from './cohort.repository.ts';
import { cohortTagSchema, type RuleNode, ruleSchema } from './cohort-rule.ts';
import type { CohortKind } from './panel.tables.ts';

const isUniqueViolation = (error: unknown) => (error as { code?: unknown })?.code === '23505';

export const MAX_USER_TAGS = 20;
export const MAX_MEMBERS_PER_CALL = 500;

const cohortInput = z.object({
  tag: cohortTagSchema,
  name: z.string().trim().min(1).max(100),
  description: z.string().trim().max(1000).default(''),
  kind: z.enum(['rule', 'manual']),
  rule: z.unknown().optional(),
  active: z.boolean().default(true),
});

export type CohortInput = {
  tag: string;
  name: string;
  description?: string | null;
  kind: CohortKind;
  rule?: unknown;
  active?: boolean | null;
};

export type CohortPatch = {
  tag?: string | null;
  name?: string | null;
  description?: string | null;
  rule?: unknown;
  active?: boolean | null;
};

type StaffActor = AuditActor & { principal: Principal };

const snapshot = (c: Cohort): JsonObject => ({
  tag: c.tag,
  name: c.name,
  description: c.description,
  kind: c.kind,
  rule: c.rule as unknown as JsonObject | null,
  active: c.active,
});

/**
 * Cohorts: groups of users by rule or by hand, whose tags other domains read (billing tariffs,
 * gallery rules). Rule cohorts are recomputed as a whole by the timetable task and on each edit, and
 * per user by the panel consumers when an event changes one of the user's facts.
 */
export class CohortService {
  private readonly deps: { db: Db; repo: CohortRepository; audit: AuditLog; clock: Clock };

  constructor(deps: CohortService['deps']) {
    this.deps = deps;
  }

  /** The tags of the active cohorts `userId` belongs to (billing's CohortTags). */
  tagsOf(userId: string): Promise<string[]> {
    return this.deps.repo.tagsOf(userId);
  }

  list(): Promise<Cohort[]> {
    return this.deps.repo.list();
  }

  find(id: string): Promise<Cohort | undefined> {
    return this.deps.repo.find(this.deps.db, id);
  }

  memberCount(id: string): Promise<number> {
    return this.deps.repo.memberCount(this.deps.db, id);
  }

  members(id: string, limit: number, after: string | undefined): Promise<CohortMember[]> {
    return this.deps.repo.members(id, limit, after);
  }

  /** Validates a rule: BAD_USER_INPUT naming `rule` with the first problem. */
  parseRule(rule: unknown): RuleNode {
    return parseOrThrow(ruleSchema, rule, 'rule');
  }

  preview(rule: unknown, sample: number): Promise<{ count: number; sample: CohortMember[] }> {
    return this.deps.repo.preview(this.parseRule(rule), this.deps.clock.now(), sample);
  }

  async create(actor: StaffActor, input: CohortInput): Promise<Cohort> {
    const parsed = parseOrThrow(
      cohortInput,
      { ...input, description: input.description ?? undefined, active: input.active ?? undefined },
      'input',
    );
    const rule = this.ruleFor(parsed.kind, parsed.rule);
    return this.unique(() =>
      withTransaction(this.deps.db, async (tx) => {
        const now = this.deps.clock.now();
        const cohort = await this.deps.repo.insert(tx, { ...parsed, rule }, actor.principal.userId, now);
        await this.deps.repo.recomputeCohort(tx, cohort, now);
        await this.deps.audit.record(tx, actor, {
          action: 'cohort.created',
          targetType: 'cohort',
          targetId: cohort.id,
          after: snapshot(cohort),
        });
        return cohort;
      }),
    );
  }

  async update(actor: StaffActor, id: string, patch: CohortPatch): Promise<Cohort> {
    return this.unique(() =>
      withTransaction(this.deps.db, async (tx) => {
        const before = await this.deps.repo.find(tx, id, true);
        if (!before) throw notFound('Cohort');
        const merged = parseOrThrow(
          cohortInput,
          {
            tag: patch.tag ?? before.tag,
            name: patch.name ?? before.name,
            description: patch.description ?? before.description,
            kind: before.kind,
            rule: patch.rule ?? before.rule ?? undefined,
            active: patch.active ?? before.active,
          },
          'input',
        );
        const rule = this.ruleFor(before.kind, merged.rule);
        const now = this.deps.clock.now();
        const after = await this.deps.repo.update(tx, id, { ...merged, rule }, now);
        // A new rule or (de)activation takes effect at once, not at the next timetable run.
        await this.deps.repo.recomputeCohort(tx, after, now);
        await this.deps.audit.record(tx, actor, {
          action: 'cohort.updated',
          targetType: 'cohort',
          targetId: id,
          before: snapshot(before),
          after: snapshot(after),
        });
        return after;
      }),
    );
  }

  async delete(actor: StaffActor, id: string): Promise<boolean> {
    return withTransaction(this.deps.db, async (tx) => {
      const before = await this.deps.repo.find(tx, id, true);
      if (!before) throw notFound('Cohort');
      await this.deps.repo.delete(tx, id);
      await this.deps.audit.record(tx, actor, {
        action: 'cohort.deleted',
        targetType: 'cohort',
        targetId: id,
        before: snapshot(before),
      });
      return true;
    });
  }

  async addMembers(actor: StaffActor, id: string, userIds: string[]): Promise<number> {
    return this.changeMembers(actor, id, userIds, 'add');
  }

  async removeMembers(actor: StaffActor, id: string, userIds: string[]): Promise<number> {
    return this.changeMembers(actor, id, userIds, 'remove');
  }

  userTags(userId: string): Promise<string[]> {
    return this.deps.repo.userTags(this.deps.db, userId);
  }

  /** Replaces the admin tags of a user and re-evaluates the user's rule cohorts at once. */
  async setUserTags(actor: StaffActor, userId: string, tags: string[]): Promise<string[]> {
    const wanted = [
      ...new Set(parseOrThrow(z.array(cohortTagSchema).max(MAX_USER_TAGS), tags, 'tags')),
    ].sort();
    if ((await this.deps.repo.existingUsers([userId])).length === 0) throw notFound('User');
    return withTransaction(this.deps.db, async (tx) => {
      const now = this.deps.clock.now();
      const before = await this.deps.repo.userTags(tx, userId);
      await this.deps.repo.setUserTags(tx, userId, wanted, actor.principal.userId, now);
      await this.deps.repo.recomputeUser(tx, userId, now);
      await this.deps.audit.record(tx, actor, {
        action: 'cohort.user_tags_set',
        targetType: 'user',
        targetId: userId,
        before: { tags: before },
        after: { tags: wanted },
      });
      return wanted;
    });
  }

  /** The timetable task: every active rule cohort, one transaction each (a slow one blocks no other). */
  async recomputeAll(): Promise<{ cohorts: number; added: number; removed: number }> {
    const cohorts = await this.deps.repo.activeRuleCohorts(this.deps.db);
    let added = 0;
    let removed = 0;
    for (const { id } of cohorts) {
      const change = await withTransaction(this.deps.db, async (tx): Promise<MembershipChange> => {
        // Locked, so an edit running now waits and its own recompute wins.
        const cohort = await this.deps.repo.find(tx, id, true);
        if (!cohort?.active || cohort.kind !== 'rule') return { added: [], removed: [] };
        return this.deps.repo.recomputeCohort(tx, cohort, this.deps.clock.now());
      });
      added += change.added.length;
      removed += change.removed.length;
    }
    return { cohorts: cohorts.length, added, removed };
  }

  /** The consumers: re-evaluates one user's rule cohorts in the event's transaction. */
  recomputeUser(tx: Tx, userId: string): Promise<{ joined: string[]; left: string[] }> {
    return this.deps.repo.recomputeUser(tx, userId, this.deps.clock.now());
  }

  private ruleFor(kind: CohortKind, rule: unknown): RuleNode | null {
    if (kind === 'manual') {
      if (rule !== undefined && rule !== null)
        throw badInput('A manual cohort has no rule', { field: 'rule' });
      return null;
    }
    if (rule === undefined || rule === null) throw badInput('A rule cohort needs a rule', { field: 'rule' });
    return this.parseRule(rule);
  }

  private async changeMembers(actor: StaffActor, id: string, userIds: string[], change: 'add' | 'remove') {
    const ids = [
      ...new Set(
        parseOrThrow(z.array(z.uuid('must be an id')).min(1).max(MAX_MEMBERS_PER_CALL), userIds, 'userIds'),
      ),
    ];
    if (change === 'add') {
      const existing = new Set(await this.deps.repo.existingUsers(ids));
      const unknown = ids.filter((u) => !existing.has(u));
      if (unknown.length > 0)
        throw badInput(`Unknown or deleted users: ${unknown.join(', ')}`, { field: 'userIds' });
    }
    return withTransaction(this.deps.db, async (tx) => {
      const cohort = await this.deps.repo.find(tx, id, true);
      if (!cohort) throw notFound('Cohort');
      if (cohort.kind !== 'manual') {
        throw badInput('Members of a rule cohort follow its rule; edit the rule instead', {
          field: 'cohortId',
        });
      }
      const now = this.deps.clock.now();
      const changed =
        change === 'add'
          ? await this.deps.repo.addMembers(tx, id, ids, actor.principal.userId, now)
          : await this.deps.repo.removeMembers(tx, id, ids);
      await this.deps.audit.record(tx, actor, {
        action: change === 'add' ? 'cohort.members_added' : 'cohort.members_removed',
        targetType: 'cohort',
        targetId: id,
        after: { userIds: ids, changed },
      });
      return changed;
    });
  }

  private async unique<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict('Another cohort already has this tag');
      throw error;
    }
  }
}
