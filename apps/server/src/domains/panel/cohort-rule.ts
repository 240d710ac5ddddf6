import { z } from 'zod';

/**
 * The cohort rule language: a tree of `all` / `any` / `not` over conditions on one user's attributes.
 * This file holds the validated shape and a pure evaluator; the repository compiles the same tree to
 * SQL (cohort-rule.sql.ts), and a property test checks that both agree.
 */

export const COHORT_TAG = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;
export const cohortTagSchema = z
  .string()
  .regex(
    COHORT_TAG,
    'tag must be lower-case letters, digits and _.:- (1 to 64, starting with a letter or digit)',
  );

/** Attributes holding a set of strings: a condition matches when the set contains the value(s). */
export const SET_ATTRIBUTES = ['role', 'language', 'tag'] as const;
/** Attributes holding one string. */
export const TEXT_ATTRIBUTES = ['country'] as const;
export const NUMBER_ATTRIBUTES = ['coins_bought', 'calls_made'] as const;
export const TIME_ATTRIBUTES = ['signed_up_at', 'last_active_at'] as const;

export type SetAttribute = (typeof SET_ATTRIBUTES)[number];
export type TextAttribute = (typeof TEXT_ATTRIBUTES)[number];
export type NumberAttribute = (typeof NUMBER_ATTRIBUTES)[number];
export type TimeAttribute = (typeof TIME_ATTRIBUTES)[number];

const text = z.string().trim().min(1).max(64);
const texts = z.array(text).min(1).max(100);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const days = z.number().int().min(1).max(3650);
const instant = z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString());

const setCondition = z.union([
  z.strictObject({ attribute: z.enum(SET_ATTRIBUTES), op: z.literal('eq'), value: text }),
  z.strictObject({ attribute: z.enum(SET_ATTRIBUTES), op: z.literal('in'), values: texts }),
]);
const textCondition = z.union([
  z.strictObject({ attribute: z.enum(TEXT_ATTRIBUTES), op: z.literal('eq'), value: text }),
  z.strictObject({ attribute: z.enum(TEXT_ATTRIBUTES), op: z.literal('in'), values: texts }),
]);
const numberCondition = z.union([
  z.strictObject({ attribute: z.enum(NUMBER_ATTRIBUTES), op: z.enum(['eq', 'gte', 'lte']), value: count }),
  z
    .strictObject({ attribute: z.enum(NUMBER_ATTRIBUTES), op: z.literal('between'), min: count, max: count })
    .refine((c) => c.min <= c.max, 'between needs min <= max'),
]);
const timeCondition = z.union([
  z.strictObject({ attribute: z.enum(TIME_ATTRIBUTES), op: z.literal('gte'), value: instant }),
  z.strictObject({ attribute: z.enum(TIME_ATTRIBUTES), op: z.literal('lte'), value: instant }),
  z
    .strictObject({
      attribute: z.enum(TIME_ATTRIBUTES),
      op: z.literal('between'),
      from: instant,
      to: instant,
    })
    .refine((c) => c.from <= c.to, 'between needs from <= to'),
  // Within the last N days of "now" (the recompute's clock), or not (e.g. inactive for N days).
  z.strictObject({ attribute: z.enum(TIME_ATTRIBUTES), op: z.literal('within_days'), days }),
  z.strictObject({ attribute: z.enum(TIME_ATTRIBUTES), op: z.literal('not_within_days'), days }),
]);

export const conditionSchema = z.union([setCondition, textCondition, numberCondition, timeCondition]);
export type Condition = z.infer<typeof conditionSchema>;

export type RuleNode = Condition | { all: RuleNode[] } | { any: RuleNode[] } | { not: RuleNode };

export const MAX_RULE_DEPTH = 5;
export const MAX_RULE_CONDITIONS = 50;

export const ruleNodeSchema: z.ZodType<RuleNode> = z.lazy(() =>
  z.union([
    conditionSchema,
    z.strictObject({ all: z.array(ruleNodeSchema).min(1).max(MAX_RULE_CONDITIONS) }),
    z.strictObject({ any: z.array(ruleNodeSchema).min(1).max(MAX_RULE_CONDITIONS) }),
    z.strictObject({ not: ruleNodeSchema }),
  ]),
);

/** A whole rule: the tree, bounded so a rule compiles to a query of bounded size. */
export const ruleSchema = ruleNodeSchema.superRefine((rule, ctx) => {
  let conditions = 0;
  const walk = (node: RuleNode, depth: number): void => {
    if (depth > MAX_RULE_DEPTH) {
      ctx.addIssue({ code: 'custom', message: `rule nests deeper than ${MAX_RULE_DEPTH} levels` });
      return;
    }
    if ('all' in node) for (const n of node.all) walk(n, depth + 1);
    else if ('any' in node) for (const n of node.any) walk(n, depth + 1);
    else if ('not' in node) walk(node.not, depth + 1);
    else conditions++;
  };
  walk(rule, 1);
  if (conditions > MAX_RULE_CONDITIONS) {
    ctx.addIssue({ code: 'custom', message: `rule has more than ${MAX_RULE_CONDITIONS} conditions` });
  }
});

/** Everything a rule can test about one user (docs/cohorts.md says where each comes from). */
export type UserFacts = {
  roles: string[];
  country: string | null;
  languages: string[];
  tags: string[];
  signedUpAt: Date | null;
  coinsBought: bigint;
  callsMade: number;
  lastActiveAt: Date | null;
};

const DAY_MS = 86_400_000;

/** The instant `days` days before `now`: both evaluators compare against the same cutoff. */
export const withinDaysCutoff = (now: Date, days: number): Date => new Date(now.getTime() - days * DAY_MS);

const setOf = (facts: UserFacts, attribute: SetAttribute): string[] =>
  attribute === 'role' ? facts.roles : attribute === 'language' ? facts.languages : facts.tags;

/** The pure evaluator: a missing value (null) never matches a condition (as SQL's coalesce(…, false)). */
export function evaluateRule(rule: RuleNode, facts: UserFacts, now: Date): boolean {
  if ('all' in rule) return rule.all.every((n) => evaluateRule(n, facts, now));
  if ('any' in rule) return rule.any.some((n) => evaluateRule(n, facts, now));
  if ('not' in rule) return !evaluateRule(rule.not, facts, now);
  return evaluateCondition(rule, facts, now);
}

function evaluateCondition(c: Condition, facts: UserFacts, now: Date): boolean {
  switch (c.attribute) {
    case 'role':
    case 'language':
    case 'tag': {
      const set = setOf(facts, c.attribute);
      return c.op === 'eq' ? set.includes(c.value) : c.values.some((v) => set.includes(v));
    }
    case 'country':
      if (facts.country === null) return false;
      return c.op === 'eq' ? facts.country === c.value : c.values.includes(facts.country);
    case 'coins_bought':
    case 'calls_made': {
      const value = c.attribute === 'coins_bought' ? facts.coinsBought : BigInt(facts.callsMade);
      if (c.op === 'between') return value >= BigInt(c.min) && value <= BigInt(c.max);
      const target = BigInt(c.value);
      return c.op === 'eq' ? value === target : c.op === 'gte' ? value >= target : value <= target;
    }
    case 'signed_up_at':
    case 'last_active_at': {
      const at = c.attribute === 'signed_up_at' ? facts.signedUpAt : facts.lastActiveAt;
      if (c.op === 'not_within_days') {
        // Never active counts as "not active within N days".
        return at === null || at.getTime() < withinDaysCutoff(now, c.days).getTime();
      }
      if (at === null) return false;
      const t = at.getTime();
      if (c.op === 'within_days') return t >= withinDaysCutoff(now, c.days).getTime();
      if (c.op === 'between') return t >= Date.parse(c.from) && t <= Date.parse(c.to);
      return c.op === 'gte' ? t >= Date.parse(c.value) : t <= Date.parse(c.value);
    }
  }
}
