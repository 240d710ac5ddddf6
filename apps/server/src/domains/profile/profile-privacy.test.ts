import {
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  isLeafType,
  isNonNullType,
  isObjectType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { gql } from '../../../test/graphql-client.ts';
import type { Role } from '../../platform/auth/roles.ts';
import { buildSchema } from '../../platform/graphql/schema.ts';

/**
 * The privacy matrix: every role × every path from a root field to PrivateProfile × every field of
 * PrivateProfile. The paths are found by walking the schema, so a new field that exposes the type
 * fails here until it is added on purpose with the rule a reviewer expects.
 */

type Step = { type: string; field: GraphQLField<unknown, unknown> };

const PRIVATE = 'PrivateProfile';

function pathsTo(schema: GraphQLSchema, target: string): Step[][] {
  const found: Step[][] = [];
  const walk = (type: GraphQLObjectType, path: Step[], seen: Set<string>) => {
    for (const field of Object.values(type.getFields())) {
      const named = getNamedType(field.type);
      const step = [...path, { type: type.name, field }];
      if (named.name === target) found.push(step);
      else if (isObjectType(named) && !seen.has(named.name) && !named.name.startsWith('__')) {
        walk(named, step, new Set([...seen, named.name]));
      }
    }
  };
  for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    if (root) walk(root, [], new Set([root.name]));
  }
  return found;
}

/** Every field of the type, nested objects expanded to their leaves. */
function selectAll(type: GraphQLNamedType, depth = 0): string {
  if (!isObjectType(type) || depth > 3) return '';
  const fields = Object.values(type.getFields()).filter((f) => f.args.every((a) => !isNonNullType(a.type)));
  return `{ ${fields
    .map((f) => {
      const named = getNamedType(f.type);
      return isLeafType(named) ? f.name : `${f.name} ${selectAll(named, depth + 1)}`;
    })
    .join(' ')} }`;
}

// The only ways to PrivateProfile, each with the arguments the matrix passes and who may read whose.
const KNOWN_PATHS: Record<
  string,
  { operation: 'query' | 'mutation'; args: string; reads: 'caller' | 'target' }
> = {
  'Query.myProfile': { operation: 'query', args: '', reads: 'caller' },
  'Query.adminUserProfile': { operation: 'query', args: '(userId: $target)', reads: 'target' },
  'Mutation.updateMyProfile': { operation: 'mutation', args: '(input: { bio: "matrix" })', reads: 'caller' },
};

const ROLES: Array<Role | 'anonymous'> = ['anonymous', 'user', 'streamer', 'moderator', 'admin'];
const STAFF = new Set<string>(['moderator', 'admin']);

// Values only the target account has: finding any of them in another caller's response is a leak.
const TARGET = {
  email: 'tamsin.target@example.com',
  birthDate: '1991-07-13',
  realName: 'Tamsin Targetova',
  payoutDetails: { iban: 'DE00TARGET0000SECRET' },
  preferences: { language: 'pt', notifyPromotions: true },
};

describe('private profile data is reachable only by its owner and by staff', () => {
  let app: TestApp;
  let target: { userId: string };
  const schema = buildSchema();
  const paths = pathsTo(schema, PRIVATE);

  beforeAll(async () => {
    app = await startTestApp();
    const signUp = await gql<{ signUpWithEmail: { userId: string; accessToken: string } }>(
      app.url,
      'mutation($e: String!) { signUpWithEmail(email: $e, password: "a long enough password") { userId accessToken } }',
      { e: TARGET.email },
    );
    const tokens = signUp.data?.signUpWithEmail;
    if (!tokens) throw new Error(JSON.stringify(signUp.errors));
    await app.services.accounts.setRoles(tokens.userId, ['user', 'streamer']);
    target = tokens;
    const filled = await gql(
      app.url,
      `mutation($input: UpdateProfileInput!) { updateMyProfile(input: $input) { userId } }`,
      {
        input: {
          displayName: 'Tamsin',
          birthDate: TARGET.birthDate,
          gender: 'female',
          country: 'PT',
          realName: TARGET.realName,
          payoutDetails: TARGET.payoutDetails,
          preferences: TARGET.preferences,
        },
      },
      { token: tokens.accessToken },
    );
    expect(filled.errors).toBeUndefined();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('finds exactly the known paths to PrivateProfile (a new one must be added here on purpose)', () => {
    const names = paths.map((p) => p.map((s) => `${s.type}.${s.field.name}`).join(' > ')).sort();
    expect(names).toEqual(Object.keys(KNOWN_PATHS).sort());
  });

  it('keeps private fields off PublicProfile', () => {
    const publicType = schema.getType('PublicProfile');
    if (!isObjectType(publicType)) throw new Error('PublicProfile missing');
    expect(Object.keys(publicType.getFields()).sort()).toEqual(
      [
        'age',
        'bio',
        'country',
        'displayName',
        'gender',
        'headline',
        'interests',
        'isStreamer',
        'languages',
        'photos',
        'userId',
      ].sort(),
    );
  });

  it('walks every role × path × PrivateProfile field', async () => {
    const privateType = schema.getType(PRIVATE);
    if (!isObjectType(privateType)) throw new Error('PrivateProfile missing');
    const fieldNames = Object.keys(privateType.getFields());
    const selection = selectAll(privateType);
    const matrix: Record<string, Record<string, string>> = {};

    for (const role of ROLES) {
      const caller = role === 'anonymous' ? null : await app.signIn([role]);
      matrix[role] = {};
      for (const path of paths) {
        const name = path.map((s) => `${s.type}.${s.field.name}`).join(' > ');
        const known = KNOWN_PATHS[name];
        if (!known) throw new Error(`unreviewed path to ${PRIVATE}: ${name}`);
        const [root] = path;
        const vars = known.args.includes('$target') ? '($target: ID!)' : '';
        const query = `${known.operation}${vars} { ${root?.field.name}${known.args} ${selection} }`;
        const response = await gql<Record<string, Record<string, unknown> | null>>(
          app.url,
          query,
          vars ? { target: target.userId } : {},
          caller ? { token: caller.accessToken } : {},
        );
        const profile = response.data?.[root?.field.name ?? ''] ?? null;
        const body = JSON.stringify(response);
        const leaked = [TARGET.birthDate, TARGET.realName, TARGET.payoutDetails.iban, TARGET.email].some(
          (v) => body.includes(v),
        );

        if (!profile) {
          expect(leaked, `${role} ${name}`).toBe(false);
          matrix[role][name] = String(response.errors?.[0]?.extensions?.code);
          continue;
        }
        // Every field of the type was asked for and answered.
        expect(Object.keys(profile).sort(), `${role} ${name}`).toEqual([...fieldNames].sort());
        if (profile.userId === target.userId) {
          expect(profile).toMatchObject({
            email: TARGET.email,
            birthDate: TARGET.birthDate,
            realName: TARGET.realName,
            payoutDetails: TARGET.payoutDetails,
            preferences: TARGET.preferences,
          });
          matrix[role][name] = 'other account';
        } else {
          expect(profile.userId, `${role} ${name}`).toBe(caller?.userId);
          expect(leaked, `${role} ${name}`).toBe(false);
          matrix[role][name] = 'own account';
        }
      }
    }

    const expected: Record<string, Record<string, string>> = {};
    for (const role of ROLES) {
      expected[role] = {};
      for (const [name, rule] of Object.entries(KNOWN_PATHS)) {
        expected[role][name] =
          role === 'anonymous'
            ? 'UNAUTHENTICATED'
            : rule.reads === 'caller'
              ? 'own account'
              : STAFF.has(role)
                ? 'other account'
                : 'FORBIDDEN';
      }
    }
    expect(matrix).toEqual(expected);
  });

  it('a staff member acting as a plain user is refused like one', async () => {
    const admin = await app.signIn(['user', 'admin']);
    const response = await gql(
      app.url,
      'query($t: ID!) { adminUserProfile(userId: $t) { birthDate } }',
      { t: target.userId },
      { token: admin.accessToken, headers: { 'x-hasura-role': 'user' } },
    );
    expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(JSON.stringify(response)).not.toContain(TARGET.birthDate);
  });

  it('shows others the public profile without the birth date, only the age', async () => {
    const viewer = await app.signIn(['user']);
    const response = await gql<{ profile: Record<string, unknown> }>(
      app.url,
      `query($t: ID!) { profile(userId: $t) ${selectAll(schema.getType('PublicProfile') as GraphQLNamedType)} }`,
      { t: target.userId },
      { token: viewer.accessToken },
    );
    expect(response.errors).toBeUndefined();
    expect(response.data?.profile).toMatchObject({ displayName: 'Tamsin', country: 'PT', isStreamer: true });
    expect(typeof response.data?.profile.age).toBe('number');
    const body = JSON.stringify(response);
    for (const secret of [TARGET.birthDate, TARGET.realName, TARGET.payoutDetails.iban, TARGET.email]) {
      expect(body).not.toContain(secret);
    }
  });
});
