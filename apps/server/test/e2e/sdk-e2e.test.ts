import {
  createOloClient,
  MeDocument,
  memoryTokenStore,
  type OloClient,
  type OloClientOptions,
  OloError,
  RotateSigningKeyDocument,
  ServerClockDocument,
  ServerInfoDocument,
  type SessionTokens,
} from '@olo/sdk';
import { decodeJwt, decodeProtectedHeader, importJWK, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../database.ts';
import { type ServerProcess, startServerProcess } from '../server-process.ts';

const ADMIN = { email: 'admin@olo.local', password: 'olo-demo-password' };
const USER1 = { email: 'user1@olo.local', password: 'olo-demo-password', phone: '+15550100001' };
const FAR_FUTURE = '2999-01-01T00:00:00.000Z';
const LONG_PAST = '2000-01-01T00:00:00.000Z';

/** Resolves to the OloError the call failed with; fails the test when it succeeds or fails otherwise. */
async function failure(call: Promise<unknown>): Promise<OloError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof OloError) return error;
    throw error;
  }
  throw new Error('expected the call to fail with an OloError');
}

/** A fetch that records the name of every GraphQL operation it sends. */
function recordingFetch() {
  const operations: string[] = [];
  const impl: typeof fetch = (input, init) => {
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as { query?: string }) : {};
    operations.push(/^\s*(?:query|mutation|subscription)\s+(\w+)/.exec(body.query ?? '')?.[1] ?? '?');
    return fetch(input, init);
  };
  return { fetch: impl, count: (name: string) => operations.filter((op) => op === name).length };
}

describe('SDK end to end against the server process', () => {
  let database: TestDatabase;
  let server: ServerProcess;
  let graphqlUrl: string;
  const clients: OloClient[] = [];

  const client = (options: Partial<OloClientOptions> = {}) => {
    const created = createOloClient({ url: graphqlUrl, ...options });
    clients.push(created);
    return created;
  };

  /** Signs in on a new session (its own device) and returns the tokens. */
  const signIn = (account: { email: string; password: string }) => client().signInWithEmail(account);

  /** The same token with another lifetime, signed with the server's own key: what a real token would be. */
  async function withLifetime(accessToken: string, secondsFromNow: number): Promise<string> {
    const { kid } = decodeProtectedHeader(accessToken);
    const { rows } = await database.handle.pool.query<{ private_jwk: JWK }>(
      'select private_jwk from auth.signing_keys where kid = $1',
      [kid],
    );
    const jwk = rows[0]?.private_jwk;
    if (!jwk) throw new Error(`signing key ${kid} not found`);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ ...decodeJwt(accessToken), iat: now - 60, exp: now + secondsFromNow })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .sign(await importJWK(jwk, 'ES256'));
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    server = await startServerProcess({
      env: { DATABASE_URL: database.url, SEED_DEMO_DATA: 'true', LOG_LEVEL: 'warn' },
    });
    graphqlUrl = `${server.url}/graphql`;
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    // How the server shuts down (exit code, draining) is the shutdown tests' business.
    await server?.stop('SIGTERM');
    await database?.drop();
  });

  it('answers public queries without signing in', async () => {
    const { serverInfo } = await client().request(ServerInfoDocument);
    expect(serverInfo.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(Number.isNaN(Date.parse(serverInfo.time))).toBe(false);
  });

  it('signs in the seeded admin with email and password; me returns its roles', async () => {
    const admin = client();
    const tokens = await admin.signInWithEmail(ADMIN);
    expect(await admin.tokens.get()).toEqual(tokens);
    const { me } = await admin.request(MeDocument);
    expect(me.id).toBe(tokens.userId);
    expect([...me.roles].sort()).toEqual(['admin', 'moderator', 'user']);
    expect(me.activeRole).toBe('admin');
  });

  it('acts as the role it names, and is refused a role the account lacks', async () => {
    const moderator = client({ role: 'moderator' });
    await moderator.signInWithEmail(ADMIN);
    expect((await moderator.request(MeDocument)).me.activeRole).toBe('moderator');

    const streamer = client({ role: 'streamer' });
    await streamer.signInWithEmail(ADMIN);
    const error = await failure(streamer.request(MeDocument));
    expect(error.code).toBe('FORBIDDEN');
    expect(error.status).toBe(403);
  });

  it('refuses a wrong password with UNAUTHENTICATED and stores nothing', async () => {
    const anonymous = client();
    const error = await failure(anonymous.signInWithEmail({ ...ADMIN, password: 'not-the-password' }));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(await anonymous.tokens.get()).toBeNull();
  });

  it('signs up with email, then refuses the same email again', async () => {
    const email = `e2e-${Date.now().toString(36)}@example.com`;
    const newcomer = client();
    const tokens = await newcomer.signUpWithEmail({ email, password: 'a long enough password' });
    const { me } = await newcomer.request(MeDocument);
    expect(me).toMatchObject({ id: tokens.userId, roles: ['user'], activeRole: 'user' });
    const error = await failure(client().signUpWithEmail({ email, password: 'a long enough password' }));
    expect(error.code).toBe('CONFLICT');
  });

  it('signs in with a phone code read from the SMS outbox; a wrong code is refused', async () => {
    const phone = client();
    const sent = await phone.requestPhoneCode(USER1.phone);
    expect(Date.parse(sent.expiresAt)).toBeGreaterThan(Date.now());
    const { rows } = await database.handle.pool.query<{ body: string }>(
      `select body from "user".sms_outbox where to_phone = $1 order by id desc limit 1`,
      [USER1.phone],
    );
    const code = /Your OLO code is (\d{6})/.exec(rows[0]?.body ?? '')?.[1];
    expect(code, `no code in the SMS outbox: ${JSON.stringify(rows)}`).toMatch(/^\d{6}$/);
    const wrongCode = String((Number(code) + 1) % 1_000_000).padStart(6, '0');

    const wrong = await failure(phone.signInWithPhone({ phone: USER1.phone, code: wrongCode }));
    expect(wrong.code).toBe('UNAUTHENTICATED');
    expect(await phone.tokens.get()).toBeNull();

    const tokens = await phone.signInWithPhone({ phone: USER1.phone, code: String(code) });
    const { me } = await phone.request(MeDocument);
    const user1 = await signIn(USER1);
    expect(me.id).toBe(user1.userId);
    expect(tokens.userId).toBe(user1.userId);
    expect(me.roles).toEqual(['user']);
  });

  it('streams serverClock over WebSocket', async () => {
    const subscriber = client();
    await subscriber.signInWithEmail(ADMIN);
    const ticks: string[] = [];
    for await (const tick of subscriber.subscribe(ServerClockDocument, { intervalMs: 100 })) {
      ticks.push(tick.serverClock);
      if (ticks.length >= 3) break;
    }
    const times = ticks.map((t) => Date.parse(t));
    expect(times.every((t) => Number.isFinite(t))).toBe(true);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('refuses a subscription that needs a session when not signed in', async () => {
    const anonymous = client();
    const error = await failure(
      (async () => {
        for await (const _tick of anonymous.subscribe(ServerClockDocument, { intervalMs: 100 })) {
          throw new Error('an anonymous subscriber received a tick');
        }
      })(),
    );
    expect(error.code).toBe('UNAUTHENTICATED');
  });

  it('refreshes a stored access token past its expiry once for concurrent requests', async () => {
    const seed = await signIn(ADMIN);
    const recorder = recordingFetch();
    const stale: SessionTokens = { ...seed, accessToken: 'garbage', accessTokenExpiresAt: LONG_PAST };
    const refreshed = client({ fetch: recorder.fetch, tokens: memoryTokenStore(stale) });
    const results = await Promise.all([1, 2, 3].map(() => refreshed.request(MeDocument)));
    expect(results.map((r) => r.me.id)).toEqual([seed.userId, seed.userId, seed.userId]);
    expect(recorder.count('RefreshSession')).toBe(1);
    const stored = await refreshed.tokens.get();
    expect(stored?.refreshToken).not.toBe(seed.refreshToken);
    expect(stored?.accessToken).not.toBe('garbage');
    expect(stored?.sessionId).toBe(seed.sessionId);

    // The rotated-out refresh token is now a stolen copy: presenting it signs the session out.
    const thief = client({ tokens: memoryTokenStore(seed) });
    const reuse = await failure(thief.refresh());
    expect(reuse.code).toBe('UNAUTHENTICATED');
    expect(await thief.tokens.get()).toBeNull();
    const revoked = await failure(refreshed.request(MeDocument));
    expect(revoked.code).toBe('UNAUTHENTICATED');
    expect(revoked.reason).toBe('revoked');
  });

  it('refreshes and retries when the server reports the access token expired', async () => {
    const seed = await signIn(ADMIN);
    const expired = await withLifetime(seed.accessToken, -30);
    const recorder = recordingFetch();
    // The stored expiry claims the token is fine: only the server's answer can trigger the refresh.
    const tokens = memoryTokenStore({ ...seed, accessToken: expired, accessTokenExpiresAt: FAR_FUTURE });
    const refreshed = client({ fetch: recorder.fetch, tokens });
    const { me } = await refreshed.request(MeDocument);
    expect(me.id).toBe(seed.userId);
    expect(recorder.count('RefreshSession')).toBe(1);
    expect(recorder.count('Me')).toBe(2);
    expect((await tokens.get())?.refreshToken).not.toBe(seed.refreshToken);
  });

  it('reconnects a subscription with a refreshed token after the server closes it with 4401', async () => {
    const seed = await signIn(ADMIN);
    const shortLived = await withLifetime(seed.accessToken, 2);
    const recorder = recordingFetch();
    const tokens = memoryTokenStore({ ...seed, accessToken: shortLived, accessTokenExpiresAt: FAR_FUTURE });
    const subscriber = client({ fetch: recorder.fetch, tokens });
    let ticksAfterRefresh = 0;
    for await (const _tick of subscriber.subscribe(ServerClockDocument, { intervalMs: 100 })) {
      if (recorder.count('RefreshSession') > 0) ticksAfterRefresh++;
      if (ticksAfterRefresh >= 2) break;
    }
    expect(recorder.count('RefreshSession')).toBe(1);
    const stored = await tokens.get();
    expect(stored?.accessToken).not.toBe(shortLived);
    expect(stored?.refreshToken).not.toBe(seed.refreshToken);
  });

  it('signOut ends the session: tokens forgotten, its sockets closed, its tokens refused', async () => {
    const device = client();
    const tokens = await device.signInWithEmail(USER1);
    // Another socket of the same session (say, a second tab sharing the tokens).
    const tab = client({ tokens: memoryTokenStore(tokens) });
    const ticks = tab.subscribe(ServerClockDocument, { intervalMs: 100 });
    expect((await ticks.next()).done).toBe(false);

    expect(await device.signOut()).toBe(1);
    expect(await device.tokens.get()).toBeNull();

    const closed = await failure(
      (async () => {
        for await (const _tick of ticks) {
          // ticks already in flight may still arrive before the close
        }
      })(),
    );
    expect(closed.code).toBe('UNAUTHENTICATED');
    expect(await tab.tokens.get()).toBeNull();

    const stolen = client({ tokens: memoryTokenStore(tokens) });
    const refused = await failure(stolen.request(MeDocument));
    expect(refused.code).toBe('UNAUTHENTICATED');
    expect(refused.reason).toBe('revoked');
    expect((await failure(device.request(MeDocument))).code).toBe('UNAUTHENTICATED');
  });

  it('rotates the signing key as admin only; tokens signed before keep working', async () => {
    const admin = client();
    const before = await admin.signInWithEmail(ADMIN);
    const user = client();
    await user.signInWithEmail(USER1);
    expect((await failure(user.request(RotateSigningKeyDocument))).code).toBe('FORBIDDEN');

    const { rotateSigningKey: kid } = await admin.request(RotateSigningKeyDocument);
    expect(kid).not.toBe(decodeProtectedHeader(before.accessToken).kid);
    expect((await admin.request(MeDocument)).me.id).toBe(before.userId);
    const after = await signIn(ADMIN);
    expect(decodeProtectedHeader(after.accessToken).kid).toBe(kid);
  });
});
