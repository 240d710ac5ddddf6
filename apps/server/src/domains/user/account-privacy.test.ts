import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { hashPassword } from '../../platform/auth/passwords.ts';
import type { PushKind } from './user.tables.ts';

const SESSIONS = 'query { mySessions { id deviceName userAgent ip current } }';
const REVOKE = 'mutation($id: ID!) { revokeSession(id: $id) }';
const REGISTER = `mutation($token: String!, $platform: PushPlatform!, $kind: PushKind!) {
  registerPushToken(token: $token, platform: $platform, kind: $kind) { id kind platform sessionId }
}`;
const UNREGISTER =
  'mutation($token: String!, $kind: PushKind!) { unregisterPushToken(token: $token, kind: $kind) }';
const DELETE = 'mutation($confirm: String!) { deleteMyAccount(confirm: $confirm) }';
const EXPORT = 'query { exportMyData }';
const ME = 'query { me { id } }';

describe('sessions, push tokens, deletion and export', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  const openSession = async (userId: string, deviceName: string) => {
    const user = await app.services.accounts.getUser(userId);
    return app.database.handle.db
      .transaction()
      .execute((tx) => app.services.sessions.open(tx, user, { deviceName, userAgent: 'ua', ip: '10.0.0.1' }));
  };
  const pushRows = (token: string, kind: PushKind = 'fcm') =>
    app.database.handle.db
      .selectFrom('user.push_tokens')
      .select(['user_id', 'session_id', 'platform'])
      .where('token', '=', token)
      .where('kind', '=', kind)
      .execute();

  it("lists the caller's sessions, marks the current one, and revokes only its own", async () => {
    const phone = await app.signIn();
    const laptop = await openSession(phone.userId, 'laptop');
    const stranger = await app.signIn();
    const listed = await gql<{ mySessions: Array<{ id: string; current: boolean; deviceName: string }> }>(
      app.url,
      SESSIONS,
      {},
      { token: phone.accessToken },
    );
    expect(listed.data?.mySessions.map((s) => [s.id, s.deviceName, s.current]).sort()).toEqual(
      [
        [phone.sessionId, 'test', true],
        [laptop.sessionId, 'laptop', false],
      ].sort(),
    );

    const others = await gql(app.url, REVOKE, { id: stranger.sessionId }, { token: phone.accessToken });
    expect(errorCodes(others)).toEqual(['NOT_FOUND']);
    expect((await gql(app.url, ME, {}, { token: stranger.accessToken })).status).toBe(200);
    expect(errorCodes(await gql(app.url, REVOKE, { id: 'nope' }, { token: phone.accessToken }))).toEqual([
      'NOT_FOUND',
    ]);

    const revoked = await gql(app.url, REVOKE, { id: laptop.sessionId }, { token: phone.accessToken });
    expect(revoked.data).toEqual({ revokeSession: true });
    expect((await gql(app.url, ME, {}, { token: laptop.accessToken })).status).toBe(401);
    const after = await gql<{ mySessions: Array<{ id: string }> }>(
      app.url,
      SESSIONS,
      {},
      { token: phone.accessToken },
    );
    expect(after.data?.mySessions.map((s) => s.id)).toEqual([phone.sessionId]);
    const again = await gql(app.url, REVOKE, { id: laptop.sessionId }, { token: phone.accessToken });
    expect(errorCodes(again)).toEqual(['NOT_FOUND']);
  });

  it('keeps one row per (kind, token), moving a token to the account that registers it last', async () => {
    const first = await app.signIn();
    const second = await app.signIn();
    const token = `fcm-${Date.now()}`;
    const vars = { token, platform: 'android', kind: 'fcm' };
    const registered = await gql(app.url, REGISTER, vars, { token: first.accessToken });
    expect(registered.data).toMatchObject({
      registerPushToken: { kind: 'fcm', platform: 'android', sessionId: first.sessionId },
    });
    await gql(app.url, REGISTER, vars, { token: first.accessToken });
    expect(await pushRows(token)).toEqual([
      { user_id: first.userId, session_id: first.sessionId, platform: 'android' },
    ]);
    // The same token under another kind is another registration.
    await gql(app.url, REGISTER, { ...vars, kind: 'onesignal' }, { token: first.accessToken });
    expect(await pushRows(token, 'onesignal')).toHaveLength(1);
    expect(await pushRows(token)).toHaveLength(1);

    await gql(app.url, REGISTER, { ...vars, platform: 'ios' }, { token: second.accessToken });
    expect(await pushRows(token)).toEqual([
      { user_id: second.userId, session_id: second.sessionId, platform: 'ios' },
    ]);

    // The old owner can no longer remove it; the new one can.
    expect(
      (await gql(app.url, UNREGISTER, { token, kind: 'fcm' }, { token: first.accessToken })).data,
    ).toEqual({
      unregisterPushToken: false,
    });
    expect(
      (await gql(app.url, UNREGISTER, { token, kind: 'fcm' }, { token: second.accessToken })).data,
    ).toEqual({
      unregisterPushToken: true,
    });
    expect(await pushRows(token)).toEqual([]);
    // The onesignal registration of the same string is untouched until its provider rejects it.
    expect(await pushRows(token, 'onesignal')).toHaveLength(1);
    expect(await app.services.pushTokens.removeInvalid('onesignal', [token, 'unknown'])).toBe(1);
    expect(await pushRows(token, 'onesignal')).toEqual([]);

    const bad = await gql(app.url, REGISTER, { ...vars, token: '   ' }, { token: first.accessToken });
    expect(errorCodes(bad)).toEqual(['BAD_USER_INPUT']);
  });

  it("drops a device's push tokens when its session is signed out", async () => {
    const user = await app.signIn();
    const token = `apns-${Date.now()}`;
    await gql(app.url, REGISTER, { token, platform: 'ios', kind: 'apns_voip' }, { token: user.accessToken });
    expect(await pushRows(token, 'apns_voip')).toHaveLength(1);
    await gql(app.url, 'mutation { signOut }', {}, { token: user.accessToken });
    expect(await pushRows(token, 'apns_voip')).toEqual([]);
  });

  it('exports everything the user domain holds about the caller and nothing else', async () => {
    const user = await app.signIn();
    const email = `export-${Date.now()}@example.com`;
    await app.database.handle.db
      .insertInto('user.credentials')
      .values({
        user_id: user.userId,
        kind: 'email',
        identifier: email,
        password_hash: await hashPassword('secret-pass-1'),
      })
      .execute();
    await gql(
      app.url,
      REGISTER,
      { token: 'web-push-1', platform: 'web', kind: 'webpush' },
      { token: user.accessToken },
    );
    await gql(app.url, 'mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }', {
      t: user.refreshToken,
    });
    const other = await app.signIn();

    const response = await gql<{ exportMyData: Record<string, unknown> }>(
      app.url,
      EXPORT,
      {},
      { token: user.accessToken },
    );
    const data = response.data?.exportMyData;
    expect(data).toMatchObject({
      account: { id: user.userId, roles: ['user'], status: 'active', ban: null },
      identities: [{ issuer: app.config.auth.issuer, subject: user.userId }],
      credentials: [{ kind: 'email', identifier: email }],
      sessions: [
        { id: user.sessionId, deviceName: 'test', userAgent: 'vitest', ip: '127.0.0.1', revokedAt: null },
      ],
      pushTokens: [{ kind: 'webpush', platform: 'web', token: 'web-push-1', sessionId: user.sessionId }],
      loginAttempts: [{ method: 'refresh', identifier: null, success: true }],
    });
    const text = JSON.stringify(data);
    const stored = await app.database.handle.db
      .selectFrom('user.credentials')
      .select('password_hash')
      .where('identifier', '=', email)
      .executeTakeFirstOrThrow();
    const refreshHashes = await app.database.handle.db
      .selectFrom('user.refresh_tokens')
      .select('token_hash')
      .where('session_id', '=', user.sessionId)
      .execute();
    expect(stored.password_hash).toBeTruthy();
    expect(text).not.toContain(String(stored.password_hash));
    for (const row of refreshHashes) expect(text).not.toContain(row.token_hash.slice(0, 16));
    expect(text).not.toContain(other.userId);
    expect(text).not.toContain(other.sessionId);
  });

  it('erases personal data on deletion, keeps a tombstone, and refuses the tokens afterwards', async () => {
    const user = await app.signIn(['user', 'streamer']);
    const second = await openSession(user.userId, 'tablet');
    const phone = `+1555${String(Date.now()).slice(-7)}`;
    await app.database.handle.db
      .insertInto('user.credentials')
      .values({ user_id: user.userId, kind: 'phone', identifier: phone, password_hash: null })
      .execute();
    await app.database.handle.db
      .insertInto('user.identities')
      .values({ user_id: user.userId, issuer: 'https://issuer.example', subject: `ext-${user.userId}` })
      .execute();
    await app.database.handle.db
      .insertInto('user.login_attempts')
      .values({
        method: 'phone_code',
        identifier: phone,
        ip: '10.1.1.1',
        user_id: user.userId,
        success: true,
        reason: null,
      })
      .execute();
    await gql(
      app.url,
      REGISTER,
      { token: 'bye-token', platform: 'android', kind: 'fcm' },
      { token: user.accessToken },
    );

    const unconfirmed = await gql(app.url, DELETE, { confirm: 'yes' }, { token: user.accessToken });
    expect(errorCodes(unconfirmed)).toEqual(['BAD_USER_INPUT']);
    expect((await gql(app.url, ME, {}, { token: user.accessToken })).status).toBe(200);

    const deleted = await gql(app.url, DELETE, { confirm: 'DELETE' }, { token: user.accessToken });
    expect(deleted.data).toEqual({ deleteMyAccount: true });

    for (const token of [user.accessToken, second.accessToken]) {
      const me = await gql(app.url, ME, {}, { token });
      expect(me.status).toBe(401);
      expect(me.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'revoked' });
    }
    const refreshed = await gql(
      app.url,
      'mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }',
      {
        t: user.refreshToken,
      },
    );
    expect(errorCodes(refreshed)).toEqual(['UNAUTHENTICATED']);

    const db = app.database.handle.db;
    const tombstone = await db
      .selectFrom('user.users')
      .select(['status', 'roles', 'deleted_at'])
      .where('id', '=', user.userId)
      .executeTakeFirstOrThrow();
    expect(tombstone).toMatchObject({ status: 'deleted', roles: ['user'] });
    expect(tombstone.deleted_at).not.toBeNull();
    const count = async (
      table: 'user.credentials' | 'user.identities' | 'user.sessions' | 'user.push_tokens',
    ) => (await db.selectFrom(table).select('user_id').where('user_id', '=', user.userId).execute()).length;
    expect(await count('user.credentials')).toBe(0);
    expect(await count('user.identities')).toBe(0);
    expect(await count('user.sessions')).toBe(0);
    expect(await count('user.push_tokens')).toBe(0);
    const attempts = await db
      .selectFrom('user.login_attempts')
      .select(['identifier', 'ip'])
      .where('user_id', '=', user.userId)
      .execute();
    expect(attempts.length).toBeGreaterThan(0);
    for (const attempt of attempts) expect(attempt).toEqual({ identifier: 'deleted', ip: null });

    const events = await db
      .selectFrom('event_log.events')
      .select('type')
      .where('user_id', '=', user.userId)
      .where('type', '=', 'user_deleted')
      .execute();
    expect(events).toHaveLength(1);

    // The tombstone stays findable by id for staff, as deleted.
    const admin = await app.signIn(['user', 'admin']);
    const search = await gql<{ adminUsers: { items: Array<{ id: string; status: string }> } }>(
      app.url,
      'query($q: String) { adminUsers(filter: { query: $q }) { items { id status } } }',
      { q: user.userId },
      { token: admin.accessToken },
    );
    expect(search.data?.adminUsers.items).toEqual([{ id: user.userId, status: 'deleted' }]);
  });
});
