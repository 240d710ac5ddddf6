import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/database.ts';
import { CohortRepository } from './cohort.repository.ts';
import { evaluateRule, type RuleNode, ruleSchema, type UserFacts } from './cohort-rule.ts';

const NOW = new Date('2026-06-01T00:00:00Z');
const DAY = 86_400_000;

// Small domains, so random rules and random facts often meet (equal values, boundaries).
const word = fc.constantFrom('a', 'b', 'c');
const country = fc.constantFrom('DE', 'FR', 'US');
const amount = fc.integer({ min: 0, max: 6 });
const days = fc.integer({ min: 1, max: 6 });
const instant = fc.integer({ min: -6, max: 0 }).map((d) => new Date(NOW.getTime() + d * DAY));
const iso = instant.map((d) => d.toISOString());
const setAttr = fc.constantFrom('role' as const, 'language' as const, 'tag' as const);
const numAttr = fc.constantFrom('coins_bought' as const, 'calls_made' as const);
const timeAttr = fc.constantFrom('signed_up_at' as const, 'last_active_at' as const);

const condition: fc.Arbitrary<RuleNode> = fc.oneof(
  fc.record({ attribute: setAttr, op: fc.constant('eq' as const), value: word }),
  fc.record({
    attribute: setAttr,
    op: fc.constant('in' as const),
    values: fc.array(word, { minLength: 1, maxLength: 3 }),
  }),
  fc.record({ attribute: fc.constant('country' as const), op: fc.constant('eq' as const), value: country }),
  fc.record({
    attribute: fc.constant('country' as const),
    op: fc.constant('in' as const),
    values: fc.array(country, { minLength: 1, maxLength: 2 }),
  }),
  fc.record({
    attribute: numAttr,
    op: fc.constantFrom('eq' as const, 'gte' as const, 'lte' as const),
    value: amount,
  }),
  fc.tuple(numAttr, amount, amount).map(([attribute, a, b]) => ({
    attribute,
    op: 'between' as const,
    min: Math.min(a, b),
    max: Math.max(a, b),
  })),
  fc.record({ attribute: timeAttr, op: fc.constantFrom('gte' as const, 'lte' as const), value: iso }),
  fc.tuple(timeAttr, iso, iso).map(([attribute, a, b]) => ({
    attribute,
    op: 'between' as const,
    from: [a, b].sort()[0] as string,
    to: [a, b].sort()[1] as string,
  })),
  fc.record({
    attribute: timeAttr,
    op: fc.constantFrom('within_days' as const, 'not_within_days' as const),
    days,
  }),
);

const rule: fc.Arbitrary<RuleNode> = fc.letrec<{ node: RuleNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    condition,
    fc.record({ all: fc.array(tie('node'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ any: fc.array(tie('node'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ not: tie('node') }),
  ),
})).node;

const facts: fc.Arbitrary<UserFacts> = fc.record({
  roles: fc.uniqueArray(word, { maxLength: 3 }),
  country: fc.option(country, { nil: null }),
  languages: fc.uniqueArray(word, { maxLength: 3 }),
  tags: fc.uniqueArray(word, { maxLength: 3 }),
  signedUpAt: fc.option(instant, { nil: null }),
  coinsBought: amount.map(BigInt),
  callsMade: amount,
  lastActiveAt: fc.option(instant, { nil: null }),
});

describe('cohort rules', () => {
  let database: TestDatabase;
  let repo: CohortRepository;

  beforeAll(async () => {
    database = await createTestDatabase();
    repo = new CohortRepository(database.handle.db);
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('the SQL compilation of a rule selects exactly the users the TS evaluator accepts', async () => {
    await fc.assert(
      fc.asyncProperty(rule, fc.array(facts, { minLength: 1, maxLength: 12 }), async (r, users) => {
        const parsed = ruleSchema.safeParse(r);
        fc.pre(parsed.success);
        const rows = users.map((u, id) => ({ ...u, id }));
        const expected = rows.filter((u) => evaluateRule(r, u, NOW)).map((u) => u.id);
        expect(await repo.evaluateOver(r, rows, NOW)).toEqual(expected);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses malformed rules', () => {
    for (const bad of [
      {},
      { all: [] },
      { attribute: 'country', op: 'gte', value: 3 },
      { attribute: 'coins_bought', op: 'between', min: 5, max: 1 },
      { attribute: 'role', op: 'eq', value: 'admin', extra: true },
      { attribute: 'password', op: 'eq', value: 'x' },
      { not: { not: { not: { not: { not: { attribute: 'tag', op: 'eq', value: 'a' } } } } } },
    ]) {
      expect(ruleSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
