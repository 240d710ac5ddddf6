import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';

const REFRESH = `mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken sessionId } }`;
const ME = 'query { me { id } }';

type Refreshed = { refreshSession: { accessToken: string; refreshToken: string; sessionId: string } };

describe('sessions and refresh tokens', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('rotates the refresh token on every use and keeps the session', async () => {
    const tokens = await app.signIn();
    const first = await gql<Refreshed>(app.url, REFRESH, { t: tokens.refreshToken });
    expect(first.errors).toBeUndefined();
    const next = first.data?.refreshSession;
    expect(next?.sessionId).toBe(tokens.sessionId);
    expect(next?.refreshToken).not.toBe(tokens.refreshToken);
    const second = await gql<Refreshed>(app.url, REFRESH, { t: next?.refreshToken });
    expect(second.errors).toBeUndefined();
    const me = await gql(app.url, ME, {}, { token: second.data?.refreshSession.accessToken });
    expect(me.data).toEqual({ me: { id: tokens.userId } });
  });

  it('revokes the whole family when a used refresh token is presented again', async () => {
    const tokens = await app.signIn();
    const rotated = await gql<Refreshed>(app.url, REFRESH, { t: tokens.refreshToken });
    const current = rotated.data?.refreshSession;
    expect(current).toBeDefined();

    // An attacker replays the first (already used) token.
    const replay = await gql(app.url, REFRESH, { t: tokens.refreshToken });
    expect(replay.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'reused' });

    // The legitimate holder's newest refresh token and access token are now dead too.
    const afterReuse = await gql(app.url, REFRESH, { t: current?.refreshToken });
    expect(afterReuse.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'revoked' });
    const me = await gql(app.url, ME, {}, { token: current?.accessToken });
    expect(me.status).toBe(401);
    expect(me.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'revoked' });

    const session = await app.database.handle.db
      .selectFrom('user.sessions')
      .select(['revoked_at', 'revoke_reason'])
      .where('id', '=', tokens.sessionId)
      .executeTakeFirstOrThrow();
    expect(session.revoke_reason).toBe('refresh_token_reuse');
    expect(session.revoked_at).not.toBeNull();
  });

  it('refuses an unknown refresh token and records the attempt', async () => {
    const response = await gql(app.url, REFRESH, { t: 'not-a-token' });
    expect(errorCodes(response)).toEqual(['UNAUTHENTICATED']);
    const attempts = await app.database.handle.db
      .selectFrom('user.login_attempts')
      .select(['method', 'success', 'reason'])
      .where('method', '=', 'refresh')
      .where('reason', '=', 'unknown')
      .execute();
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts[0]).toMatchObject({ success: false });
  });

  it('signs out one device, leaving the others signed in', async () => {
    const phone = await app.signIn();
    const user = await app.services.accounts.getUser(phone.userId);
    const laptop = await app.database.handle.db
      .transaction()
      .execute((tx) =>
        app.services.sessions.open(tx, user, { deviceName: 'laptop', userAgent: null, ip: null }),
      );
    const out = await gql(app.url, 'mutation { signOut }', {}, { token: phone.accessToken });
    expect(out.data).toEqual({ signOut: 1 });
    expect((await gql(app.url, ME, {}, { token: phone.accessToken })).status).toBe(401);
    expect((await gql(app.url, REFRESH, { t: phone.refreshToken })).errors?.[0]?.extensions?.reason).toBe(
      'revoked',
    );
    expect((await gql(app.url, ME, {}, { token: laptop.accessToken })).data).toEqual({
      me: { id: phone.userId },
    });
  });

  it('signs out every device', async () => {
    const first = await app.signIn();
    const user = await app.services.accounts.getUser(first.userId);
    const second = await app.database.handle.db
      .transaction()
      .execute((tx) =>
        app.services.sessions.open(tx, user, { deviceName: 'tablet', userAgent: null, ip: null }),
      );
    const out = await gql(
      app.url,
      'mutation { signOut(allDevices: true) }',
      {},
      { token: first.accessToken },
    );
    expect(out.data).toEqual({ signOut: 2 });
    expect((await gql(app.url, ME, {}, { token: second.accessToken })).status).toBe(401);
  });
});
