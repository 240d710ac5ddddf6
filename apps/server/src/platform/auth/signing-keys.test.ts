import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/database.ts';
import { manualClock } from '../clock.ts';
import { SigningKeyStore } from './signing-keys.ts';
import { TokenService } from './tokens.ts';

const SECRET = 'a-test-secret-that-is-long-enough-1234';

describe('signing keys', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  const storedKeys = () =>
    database.handle.db.selectFrom('auth.signing_keys').selectAll().orderBy('created_at').execute();

  it('creates exactly one key when several processes start together', async () => {
    const clock = manualClock(new Date('2026-03-01T00:00:00Z'));
    const stores = Array.from(
      { length: 5 },
      () => new SigningKeyStore(database.handle.db, clock, 900, SECRET),
    );
    await Promise.all(stores.map((s) => s.ensureSigningKey(30)));
    expect(await storedKeys()).toHaveLength(1);
    const kids = await Promise.all(stores.map(async (s) => (await s.signingKey()).kid));
    expect(new Set(kids).size).toBe(1);
  });

  it('keeps private keys encrypted at rest when a secret is set', async () => {
    const [key] = await storedKeys();
    expect(key?.private_jwk).toHaveProperty('sealed', 'A256GCM');
    expect(JSON.stringify(key?.private_jwk)).not.toMatch(/"d":/);
    expect(key?.public_jwk).not.toHaveProperty('d');
  });

  it('refuses to sign with a wrong or missing secret, saying which variable to fix', async () => {
    const clock = manualClock(new Date('2026-03-01T00:00:00Z'));
    await expect(
      new SigningKeyStore(
        database.handle.db,
        clock,
        900,
        'another-secret-that-is-long-enough-5678',
      ).ensureSigningKey(30),
    ).rejects.toThrow(/AUTH_SIGNING_KEY_SECRET does not decrypt/);
    await expect(new SigningKeyStore(database.handle.db, clock, 900).ensureSigningKey(30)).rejects.toThrow(
      /encrypted: set AUTH_SIGNING_KEY_SECRET/,
    );
  });

  it('rotates a key older than the maximum age; tokens signed before a rotation keep verifying', async () => {
    const clock = manualClock(new Date('2026-03-01T00:00:00Z'));
    const store = new SigningKeyStore(database.handle.db, clock, 900, SECRET);
    const tokens = new TokenService(
      { olo: { issuer: 'http://olo.test', audience: 'olo', keys: store } },
      clock,
      900,
    );
    await store.ensureSigningKey(30);
    const kidBefore = (await store.signingKey()).kid;
    clock.advance(29 * 86_400_000);
    await store.ensureSigningKey(30);
    expect((await store.signingKey()).kid).toBe(kidBefore);
    clock.advance(2 * 86_400_000);
    await store.ensureSigningKey(30);
    expect(await storedKeys()).toHaveLength(2);
    expect((await store.signingKey()).kid).not.toBe(kidBefore);

    const justBefore = await tokens.issueAccessToken({ userId: 'u1', sessionId: 's1', roles: ['user'] });
    await store.rotate();
    const after = await tokens.issueAccessToken({ userId: 'u1', sessionId: 's1', roles: ['user'] });
    expect((await tokens.verify(justBefore.accessToken)).subject).toBe('u1');
    expect((await tokens.verify(after.accessToken)).subject).toBe('u1');
    expect((await store.jwks()).keys).toHaveLength(3);
    // Retired keys leave the JWKS once every token they signed has expired.
    clock.advance((900 + 301) * 1000);
    expect((await store.jwks()).keys.map((k) => k.kid)).toEqual([(await store.signingKey()).kid]);
  });
});
