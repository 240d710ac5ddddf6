import { type RawBuilder, sql } from 'kysely';
import { type Condition, type RuleNode, withinDaysCutoff } from './cohort-rule.ts';

// Cohort rules as SQL: the relation of facts a rule reads, and the compiler from rule to predicate.
// The TS evaluator (cohort-rule.ts) gives the same answers; the property test holds them together.

/**
 * Every attribute a rule can test, one row per active account, as the relation `f`. Country and
 * languages, roles and sign-up date, presence are read live from the views their owners publish;
 * coins and calls from the panel's own event-fed facts; manual tags from panel.user_tags.
 */
export const factsRelation = (now: Date, userId?: string) => sql`(
  select
    u.user_id,
    u.roles,
    d.country,
    coalesce(l.languages, '{}'::text[]) as languages,
    coalesce((select array_agg(t.tag) from panel.user_tags t where t.user_id = u.user_id), '{}'::text[]) as tags,
    u.created_at as signed_up_at,
    coalesce(pf.coins_bought, 0)::bigint as coins_bought,
    coalesce(pf.calls_made, 0) as calls_made,
    greatest(pf.last_active_at, p.last_seen_at, case when p.online then ${now}::timestamptz end) as last_active_at
  from "user".cohort_attributes u
  left join profile.admin_directory d on d.user_id = u.user_id
  left join profile.cohort_attributes l on l.user_id = u.user_id
  left join panel.user_facts pf on pf.user_id = u.user_id
  left join presence.user_presence p on p.user_id = u.user_id
  where u.status = 'active' ${userId === undefined ? sql`` : sql`and u.user_id = ${userId}::uuid`}
) f`;

const SET_COLUMN = { role: sql.ref('f.roles'), language: sql.ref('f.languages'), tag: sql.ref('f.tags') };
const NUMBER_COLUMN = { coins_bought: sql.ref('f.coins_bought'), calls_made: sql.ref('f.calls_made') };
const TIME_COLUMN = { signed_up_at: sql.ref('f.signed_up_at'), last_active_at: sql.ref('f.last_active_at') };

/**
 * Compiles a validated rule to a boolean SQL expression over `f` (factsRelation). Every value is a
 * bound parameter; column names come from the fixed maps above, never from input. Each condition is
 * wrapped in coalesce(…, false) so a missing value is "no match" and `not` stays two-valued, as in
 * the TS evaluator (evaluateRule).
 */
export function compileRule(rule: RuleNode, now: Date): RawBuilder<boolean> {
  if ('all' in rule)
    return sql<boolean>`(${sql.join(
      rule.all.map((n) => compileRule(n, now)),
      sql` and `,
    )})`;
  if ('any' in rule)
    return sql<boolean>`(${sql.join(
      rule.any.map((n) => compileRule(n, now)),
      sql` or `,
    )})`;
  if ('not' in rule) return sql<boolean>`(not ${compileRule(rule.not, now)})`;
  return sql<boolean>`coalesce(${compileCondition(rule, now)}, false)`;
}

function compileCondition(c: Condition, now: Date): RawBuilder<unknown> {
  switch (c.attribute) {
    case 'role':
    case 'language':
    case 'tag': {
      const column = SET_COLUMN[c.attribute];
      return c.op === 'eq' ? sql`${c.value}::text = any(${column})` : sql`${column} && ${c.values}::text[]`;
    }
    case 'country':
      return c.op === 'eq' ? sql`f.country = ${c.value}::text` : sql`f.country = any(${c.values}::text[])`;
    case 'coins_bought':
    case 'calls_made': {
      const column = NUMBER_COLUMN[c.attribute];
      if (c.op === 'between') return sql`${column} between ${c.min}::bigint and ${c.max}::bigint`;
      const op = c.op === 'eq' ? sql`=` : c.op === 'gte' ? sql`>=` : sql`<=`;
      return sql`${column} ${op} ${c.value}::bigint`;
    }
    case 'signed_up_at':
    case 'last_active_at': {
      const column = TIME_COLUMN[c.attribute];
      if (c.op === 'within_days') return sql`${column} >= ${withinDaysCutoff(now, c.days)}::timestamptz`;
      if (c.op === 'not_within_days') {
        return sql`(${column} is null or ${column} < ${withinDaysCutoff(now, c.days)}::timestamptz)`;
      }
      if (c.op === 'between') return sql`${column} between ${c.from}::timestamptz and ${c.to}::timestamptz`;
      return c.op === 'gte'
        ? sql`${column} >= ${c.value}::timestamptz`
        : sql`${column} <= ${c.value}::timestamptz`;
    }
  }
}
