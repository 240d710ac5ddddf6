import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import { compileRule, factsRelation } from './cohort-rule.sql.ts';
import type { RuleNode, UserFacts } from './cohort-rule.ts';
import type { CohortKind } from './panel.tables.ts';

type Executor = Db | Tx;

export type Cohort = {
  id: string;
  tag: string;
  name: string;
  description: string;
  kind: CohortKind;
  rule: RuleNode | null;
  active: boolean;
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
  recomputedAt: Date | null;
};

export type CohortMember = { userId: string; displayName: string | null; addedAt: Date };
export type MembershipChange = { added: string[]; removed: string[] };

type CohortRow = {
  id: string;
  tag: string;
  name: string;
  description: string;
  kind: CohortKind;
  rule: unknown;
  active: boolean;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  recomputed_at: Date | null;
};

const toCohort = (r: CohortRow): Cohort => ({
  id: r.id,
  tag: r.tag,
  name: r.name,
  description: r.description,
  kind: r.kind,
  // Stored only after ruleSchema validated it (the service), so the shape holds.
  rule: (r.rule as RuleNode | null) ?? null,
  active: r.active,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  recomputedAt: r.recomputed_at,
});

export class CohortRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async list(): Promise<Cohort[]> {
    const rows = await this.db.selectFrom('panel.cohorts').selectAll().orderBy('tag').execute();
    return rows.map(toCohort);
  }

  async find(ex: Executor, id: string, forUpdate = false): Promise<Cohort | undefined> {
    let q = ex.selectFrom('panel.cohorts').selectAll().where('id', '=', id);
    if (forUpdate) q = q.forUpdate();
    const row = await q.executeTakeFirst();
    return row ? toCohort(row) : undefined;
  }

  async insert(
    tx: Tx,
    c: {
      tag: string;
      name: string;
      description: string;
      kind: CohortKind;
      rule: RuleNode | null;
      active: boolean;
    },
    createdBy: string | null,
    now: Date,
  ): Promise<Cohort> {
    const row = await tx
      .insertInto('panel.cohorts')
      .values({
        tag: c.tag,
        name: c.name,
        description: c.description,
        kind: c.kind,
        rule: c.rule === null ? null : JSON.stringify(c.rule),
        active: c.active,
        created_by: createdBy,
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toCohort(row);
  }

  async update(
    tx: Tx,
    id: string,
    c: { tag: string; name: string; description: string; rule: RuleNode | null; active: boolean },
    now: Date,
  ): Promise<Cohort> {
    const row = await tx
      .updateTable('panel.cohorts')
      .set({
        tag: c.tag,
        name: c.name,
        description: c.description,
        rule: c.rule === null ? null : JSON.stringify(c.rule),
        active: c.active,
        updated_at: now,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toCohort(row);
  }

  async delete(tx: Tx, id: string): Promise<void> {
    await tx.deleteFrom('panel.cohorts').where('id', '=', id).execute();
  }

  async memberCount(ex: Executor, cohortId: string): Promise<number> {
    const row = await ex
      .selectFrom('panel.memberships')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('cohort_id', '=', cohortId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Members ordered by user id (the cursor), with the public display name. */
  async members(cohortId: string, limit: number, after: string | undefined): Promise<CohortMember[]> {
    const result = await sql<{ user_id: string; display_name: string | null; added_at: Date }>`
      select m.user_id, d.display_name, m.added_at
      from panel.memberships m
      left join profile.admin_directory d on d.user_id = m.user_id
      where m.cohort_id = ${cohortId}::uuid ${after ? sql`and m.user_id > ${after}::uuid` : sql``}
      order by m.user_id
      limit ${limit}`.execute(this.db);
    return result.rows.map((r) => ({ userId: r.user_id, displayName: r.display_name, addedAt: r.added_at }));
  }

  /** How many active accounts a rule matches now, and the first `sample` of them by user id. */
  async preview(
    rule: RuleNode,
    now: Date,
    sample: number,
  ): Promise<{ count: number; sample: CohortMember[] }> {
    const where = compileRule(rule, now);
    const counted = await sql<{
      n: string;
    }>`select count(*) as n from ${factsRelation(now)} where ${where}`.execute(this.db);
    const rows = await sql<{ user_id: string; display_name: string | null }>`
      select f.user_id, d.display_name
      from ${factsRelation(now)}
      left join profile.admin_directory d on d.user_id = f.user_id
      where ${where}
      order by f.user_id
      limit ${sample}`.execute(this.db);
    return {
      count: Number(counted.rows[0]?.n ?? 0),
      sample: rows.rows.map((r) => ({ userId: r.user_id, displayName: r.display_name, addedAt: now })),
    };
  }

  /** Set-based recompute of one rule cohort: inserts the missing members, deletes the stale ones. */
  async recomputeCohort(tx: Tx, cohort: Cohort, now: Date): Promise<MembershipChange> {
    if (cohort.rule === null) return { added: [], removed: [] };
    const where = cohort.active ? compileRule(cohort.rule, now) : sql<boolean>`false`;
    const result = await sql<{ user_id: string; change: 'added' | 'removed' }>`
      with matching as (select f.user_id from ${factsRelation(now)} where ${where}),
      removed as (
        delete from panel.memberships m
        where m.cohort_id = ${cohort.id}::uuid
          and not exists (select 1 from matching x where x.user_id = m.user_id)
        returning m.user_id
      ),
      added as (
        insert into panel.memberships (cohort_id, user_id, added_at)
        select ${cohort.id}::uuid, user_id, ${now}::timestamptz from matching
        on conflict do nothing
        returning user_id
      )
      select user_id, 'removed' as change from removed
      union all
      select user_id, 'added' as change from added`.execute(tx);
    await tx.updateTable('panel.cohorts').set({ recomputed_at: now }).where('id', '=', cohort.id).execute();
    return {
      added: result.rows.filter((r) => r.change === 'added').map((r) => r.user_id),
      removed: result.rows.filter((r) => r.change === 'removed').map((r) => r.user_id),
    };
  }

  async activeRuleCohorts(ex: Executor): Promise<Cohort[]> {
    const rows = await ex
      .selectFrom('panel.cohorts')
      .selectAll()
      .where('kind', '=', 'rule')
      .where('active', '=', true)
      .orderBy('id')
      .execute();
    return rows.map(toCohort);
  }

  /** Re-evaluates every active rule cohort for one user; returns the tags joined and left. */
  async recomputeUser(tx: Tx, userId: string, now: Date): Promise<{ joined: string[]; left: string[] }> {
    const cohorts = await this.activeRuleCohorts(tx);
    if (cohorts.length === 0) return { joined: [], left: [] };
    const checks = cohorts.map(
      (c) => sql`${compileRule(c.rule as RuleNode, now)} as ${sql.ref(`m_${c.id.replaceAll('-', '')}`)}`,
    );
    const evaluated = await sql<
      Record<string, boolean>
    >`select ${sql.join(checks)} from ${factsRelation(now, userId)}`.execute(tx);
    const row = evaluated.rows[0];
    const current = await tx
      .selectFrom('panel.memberships')
      .select('cohort_id')
      .where('user_id', '=', userId)
      .where(
        'cohort_id',
        'in',
        cohorts.map((c) => c.id),
      )
      .execute();
    const isMember = new Set(current.map((r) => r.cohort_id));
    const joined: Cohort[] = [];
    const left: Cohort[] = [];
    for (const c of cohorts) {
      const matches = row?.[`m_${c.id.replaceAll('-', '')}`] === true;
      if (matches && !isMember.has(c.id)) joined.push(c);
      if (!matches && isMember.has(c.id)) left.push(c);
    }
    if (joined.length > 0) {
      await tx
        .insertInto('panel.memberships')
        .values(joined.map((c) => ({ cohort_id: c.id, user_id: userId, added_at: now })))
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
    if (left.length > 0) {
      await tx
        .deleteFrom('panel.memberships')
        .where('user_id', '=', userId)
        .where(
          'cohort_id',
          'in',
          left.map((c) => c.id),
        )
        .execute();
    }
    return { joined: joined.map((c) => c.tag), left: left.map((c) => c.tag) };
  }

  /** For the property test: evaluates a rule over given facts with the same compiled SQL. */
  async evaluateOver(rule: RuleNode, facts: Array<UserFacts & { id: number }>, now: Date): Promise<number[]> {
    if (facts.length === 0) return [];
    const values = facts.map(
      (x) =>
        sql`(${x.id}::int, ${x.roles}::text[], ${x.country}::text, ${x.languages}::text[], ${x.tags}::text[],
          ${x.signedUpAt}::timestamptz, ${x.coinsBought.toString()}::bigint, ${x.callsMade}::int, ${x.lastActiveAt}::timestamptz)`,
    );
    const result = await sql<{ id: number }>`
      select f.id from (values ${sql.join(values)})
        as f (id, roles, country, languages, tags, signed_up_at, coins_bought, calls_made, last_active_at)
      where ${compileRule(rule, now)} order by f.id`.execute(this.db);
    return result.rows.map((r) => r.id);
  }

  async tagsOf(userId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('panel.user_cohort_tags')
      .select('tag')
      .where('user_id', '=', userId)
      .orderBy('tag')
      .execute();
    return rows.map((r) => r.tag);
  }

  async addMembers(
    tx: Tx,
    cohortId: string,
    userIds: string[],
    by: string | null,
    now: Date,
  ): Promise<number> {
    if (userIds.length === 0) return 0;
    const rows = await tx
      .insertInto('panel.memberships')
      .values(userIds.map((user_id) => ({ cohort_id: cohortId, user_id, added_by: by, added_at: now })))
      .onConflict((oc) => oc.doNothing())
      .returning('user_id')
      .execute();
    return rows.length;
  }

  async removeMembers(tx: Tx, cohortId: string, userIds: string[]): Promise<number> {
    if (userIds.length === 0) return 0;
    const rows = await tx
      .deleteFrom('panel.memberships')
      .where('cohort_id', '=', cohortId)
      .where('user_id', 'in', userIds)
      .returning('user_id')
      .execute();
    return rows.length;
  }

  async existingUsers(userIds: string[]): Promise<string[]> {
    if (userIds.length === 0) return [];
    const result = await sql<{ user_id: string }>`
      select user_id from "user".cohort_attributes
      where user_id = any(${userIds}::uuid[]) and status = 'active'`.execute(this.db);
    return result.rows.map((r) => r.user_id);
  }

  async userTags(ex: Executor, userId: string): Promise<string[]> {
    const rows = await ex
      .selectFrom('panel.user_tags')
      .select('tag')
      .where('user_id', '=', userId)
      .orderBy('tag')
      .execute();
    return rows.map((r) => r.tag);
  }

  async setUserTags(tx: Tx, userId: string, tags: string[], by: string | null, now: Date): Promise<void> {
    await tx.deleteFrom('panel.user_tags').where('user_id', '=', userId).execute();
    if (tags.length === 0) return;
    await tx
      .insertInto('panel.user_tags')
      .values(tags.map((tag) => ({ user_id: userId, tag, created_by: by, created_at: now })))
      .execute();
  }
}
