import {
  buildSchema,
  type FragmentDefinitionNode,
  getIntrospectionQuery,
  Kind,
  type OperationDefinitionNode,
  parse,
  specifiedRules,
  validate,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LIST_SIZE,
  measureOperation,
  operationLimitsRule,
  variableCostErrors,
} from './complexity.ts';

const schema = buildSchema(`
  type Query {
    profile(id: ID!): Profile
    profiles(first: Int, after: String): [Profile!]!
    tags: [String!]!
    events(first: Int = 20, after: String): EventPage!
  }
  type EventPage { items: [Event!]! next: String }
  type Event { id: ID! profiles: [Profile!]! }
  type Profile {
    id: ID!
    name: String!
    photos(limit: Int): [Photo!]!
    friends: [Profile!]!
  }
  type Photo { url: String! }
`);

function measure(query: string, variables?: Record<string, unknown>) {
  const document = parse(query);
  const fragments = new Map<string, FragmentDefinitionNode>();
  let operation: OperationDefinitionNode | undefined;
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    if (definition.kind === Kind.OPERATION_DEFINITION) operation ??= definition;
  }
  if (!operation) throw new Error('no operation');
  return measureOperation(schema, operation, (name) => fragments.get(name), variables);
}

const errorsFor = (query: string, limits = { maxDepth: 10, maxComplexity: 100 }) =>
  validate(schema, parse(query), [...specifiedRules, operationLimitsRule(limits)]).map((e) => e.message);

describe('operation cost and depth', () => {
  it('counts every field once outside lists', () => {
    expect(measure('{ profile(id: "1") { id name } }')).toEqual({ depth: 2, cost: 3 });
  });

  it('multiplies what is under a list by its first or limit argument', () => {
    // profiles: 1 + 5 × (id + photos: 1 + 3 × url) = 1 + 5 × 5
    expect(measure('{ profiles(first: 5) { id photos(limit: 3) { url } } }')).toEqual({
      depth: 3,
      cost: 26,
    });
  });

  it('assumes the default size for a list without a size argument, and none for a list of scalars', () => {
    expect(measure('{ profile(id: "1") { friends { id } } }').cost).toBe(2 + DEFAULT_LIST_SIZE);
    expect(measure('{ tags }').cost).toBe(1);
  });

  it('takes a size from the variables, else from the variable default, else the default size', () => {
    const query = 'query($n: Int = 7) { profiles(first: $n) { id } }';
    expect(measure(query, { n: 40 }).cost).toBe(41);
    expect(measure(query, {}).cost).toBe(8);
    expect(measure('query($n: Int) { profiles(first: $n) { id } }', {}).cost).toBe(1 + DEFAULT_LIST_SIZE);
  });

  it('counts a list sized by a variable as empty while the variables are unknown', () => {
    expect(measure('query($n: Int = 7) { profiles(first: $n) { id } }')).toEqual({ depth: 2, cost: 1 });
  });

  it('sizes the lists of a page by the paginated field, with the schema default when not given', () => {
    // events = 1 + (items: 1 + 5 × (id + profiles: 1 + 10 × name) + next)
    expect(measure('{ events(first: 5) { items { id profiles { name } } next } }')).toEqual({
      depth: 4,
      cost: 1 + (1 + 5 * (1 + (1 + DEFAULT_LIST_SIZE)) + 1),
    });
    expect(measure('{ events { items { id } } }').cost).toBe(1 + (1 + 20));
    expect(measure('query($n: Int) { events(first: $n) { items { id } } }', { n: 3 }).cost).toBe(5);
  });

  it('expands fragments, inline and named, once per use', () => {
    const query = `
      { profiles(first: 2) { ...card ... on Profile { name } } profile(id: "1") { ...card } }
      fragment card on Profile { id photos(limit: 4) { url } }`;
    // card = id + photos(1 + 4) = 6; profiles = 1 + 2 × (6 + name) = 15; profile = 1 + 6 = 7
    expect(measure(query)).toEqual({ depth: 3, cost: 22 });
  });

  it('counts introspection fields once each, so tools can load the schema', () => {
    const measured = measure(getIntrospectionQuery());
    expect(measured.depth).toBe(15);
    expect(measured.cost).toBeGreaterThan(100);
    expect(measured.cost).toBeLessThan(1000);
  });

  it('survives fragment cycles (graphql reports them)', () => {
    const query =
      '{ profile(id: "1") { ...a } } fragment a on Profile { friends { ...b } } fragment b on Profile { ...a }';
    expect(measure(query).cost).toBe(1 + 1);
  });
});

describe('operationLimitsRule', () => {
  it('refuses an operation over the cost limit, naming its cost', () => {
    expect(errorsFor('{ profiles(first: 50) { id name } }')).toEqual([
      'Operation is too complex: cost 101 exceeds the limit of 100; ask for fewer fields or smaller pages',
    ]);
    expect(errorsFor('{ profiles(first: 49) { id name } }')).toEqual([]);
  });

  it('refuses an operation deeper than the limit', () => {
    expect(
      errorsFor('{ profile(id: "1") { friends { friends { id } } } }', { maxDepth: 3, maxComplexity: 1000 }),
    ).toEqual(['Operation is too deep: depth 4 exceeds the limit of 3']);
  });

  it('does not refuse for a variable size it cannot see, and uses the variables it is given', () => {
    const query = parse('query($n: Int) { profiles(first: $n) { id } }');
    expect(validate(schema, query, [operationLimitsRule({ maxDepth: 10, maxComplexity: 100 })])).toEqual([]);
    const rule = operationLimitsRule({ maxDepth: 10, maxComplexity: 100 }, { n: 100 });
    const errors = validate(schema, query, [rule]);
    expect(errors.map((e) => e.message)).toEqual([expect.stringContaining('cost 101')]);
  });
});

describe('variableCostErrors', () => {
  it('checks the real values when a variable sizes a list', () => {
    const document = parse('query($n: Int) { profiles(first: $n) { id } }');
    expect(variableCostErrors(schema, document, { n: 99 }, 100)).toEqual([]);
    // Not given: the resolver's default page, assumed DEFAULT_LIST_SIZE.
    expect(variableCostErrors(schema, document, {}, DEFAULT_LIST_SIZE)).toHaveLength(1);
    expect(variableCostErrors(schema, document, { n: 100 }, 100).map((e) => e.message)).toEqual([
      expect.stringContaining('cost 101'),
    ]);
  });

  it('leaves documents without variable sizes to validation', () => {
    const document = parse('{ profiles(first: 1000) { id } }');
    expect(variableCostErrors(schema, document, {}, 100)).toEqual([]);
  });
});
