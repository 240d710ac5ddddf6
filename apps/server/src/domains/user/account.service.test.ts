import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';

describe('accounts keyed by issuer and subject', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('creates exactly one account when many first requests race for the same subject', async () => {
    const issuer = 'https://securetoken.google.com/race';
    const results = await Promise.all(
      Array.from({ length: 12 }, () => app.services.accounts.findOrCreateByIdentity(issuer, 'same-subject')),
    );
    expect(new Set(results.map((r) => r.userId)).size).toBe(1);
    const identities = await app.database.handle.db
      .selectFrom('user.identities')
      .select('user_id')
      .where('issuer', '=', issuer)
      .execute();
    expect(identities).toHaveLength(1);
    const recorded = await app.database.handle.db
      .selectFrom('user.login_attempts')
      .select(['method', 'success', 'user_id'])
      .where('identifier', '=', `${issuer}|same-subject`)
      .execute();
    expect(recorded).toEqual([{ method: 'external_token', success: true, user_id: results[0]?.userId }]);
    // The losers' provisional accounts are gone: one user row per identity.
    const orphans = await app.database.handle.db
      .selectFrom('user.users')
      .leftJoin('user.identities', 'user.identities.user_id', 'user.users.id')
      .select('user.users.id')
      .where('user.identities.id', 'is', null)
      .execute();
    expect(orphans).toEqual([]);
  });

  it('maps distinct (issuer, subject) pairs to distinct accounts and equal pairs to one', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('iss-a', 'iss-b'), fc.constantFrom('s1', 's2', 's3')), {
          minLength: 1,
          maxLength: 8,
        }),
        async (pairs) => {
          const suffix = crypto.randomUUID();
          const ids = await Promise.all(
            pairs.map(([issuer, subject]) =>
              app.services.accounts
                .findOrCreateByIdentity(`${issuer}-${suffix}`, subject)
                .then((a) => a.userId),
            ),
          );
          const byPair = new Map<string, string>();
          pairs.forEach(([issuer, subject], i) => {
            const key = `${issuer}/${subject}`;
            const previous = byPair.get(key);
            if (previous) expect(ids[i]).toBe(previous);
            else byPair.set(key, ids[i] as string);
          });
          expect(new Set(byPair.values()).size).toBe(byPair.size);
        },
      ),
      { numRuns: 15 },
    );
  });
});
