import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { GraphQLError, Kind } from 'graphql';
import type { Role } from '../auth/roles.ts';
import { AppError } from '../errors/app-error.ts';
import type { GraphQLContext } from './context.ts';

/**
 * Scopes name who may resolve a field. Every root field must declare one (`buildSchema`
 * refuses to start otherwise): `public`, `signedIn`, or `role: [...]` for the roles the
 * request acts as. Ownership rules are field-level functions returning true or a scope map.
 */
export type AuthScopes = {
  public: boolean;
  signedIn: boolean;
  role: Role[];
};

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  AuthScopes: AuthScopes;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
    Coins: { Input: bigint; Output: bigint };
  };
}>({
  plugins: [ScopeAuthPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({
      public: true,
      signedIn: ctx.principal !== null,
      role: (roles) => ctx.principal !== null && roles.includes(ctx.principal.role),
    }),
    unauthorizedError: (_parent, ctx) =>
      ctx.principal
        ? new AppError('FORBIDDEN', 'Not allowed for this role or account')
        : new AppError('UNAUTHENTICATED', 'Sign in required'),
  },
});

builder.scalarType('DateTime', {
  description: 'An instant, as an ISO 8601 string in UTC',
  serialize: (value) => (value instanceof Date ? value.toISOString() : new Date(value).toISOString()),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : undefined;
    if (!date || Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO 8601 string');
    return date;
  },
  parseLiteral: (ast) => {
    const date = ast.kind === Kind.STRING ? new Date(ast.value) : undefined;
    if (!date || Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO 8601 string');
    return date;
  },
});

builder.scalarType('JSON', {
  description: 'Any JSON value (event payloads); its shape is documented with the event type',
  serialize: (value) => value,
  parseValue: (value) => value,
});

const COINS_PATTERN = /^-?\d{1,18}$/;
const parseCoins = (value: unknown): bigint => {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'string' && COINS_PATTERN.test(value)) return BigInt(value);
  throw new GraphQLError('Coins must be an integer, as a number or a decimal string');
};

// Coins are 64-bit integers: as strings on the wire, since JSON numbers lose precision past 2^53.
builder.scalarType('Coins', {
  description:
    'A whole number of coins (64-bit), serialised as a decimal string; accepts a number or a string',
  serialize: (value) => value.toString(),
  parseValue: parseCoins,
  parseLiteral: (ast) => {
    if (ast.kind === Kind.INT || ast.kind === Kind.STRING)
      return parseCoins(ast.kind === Kind.INT ? Number(ast.value) : ast.value);
    throw new GraphQLError('Coins must be an integer, as a number or a decimal string');
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
