import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql, wsClient } from '../../../test/graphql-client.ts';
import type { AuthTokens } from './session.service.ts';

const CLOCK = 'subscription { serverClock(intervalMs: 100) }';
const ME = 'query { me { id roles } }';
const BAN = `mutation($id: ID!, $reason: String!, $until: DateTime) {
  banUser(userId: $id, reason: $reason, until: $until) { id status ban { reason until } }
}`;
const UNBAN = 'mutation($id: ID!) { unbanUser(userId: $id, reason: "appeal") { id status ban { reason } } }';
const SET_ROLES = `mutation($id: ID!, $roles: [Role!]!) {
  setUserRoles(userId: $id, roles: $roles, reason: "promotion") { id roles }
}`;
const AUDIT = `query($targetId: String) {
  auditLog(filter: { targetId: $targetId }) { items { action targetId actorId reason before after } }
}`;
const SEARCH = `query($filter: AdminUserFilter, $sort: AdminUserSort, $first: Int, $after: String) {
  adminUsers(filter: $filter, sort: $sort, first: $first, after: $after) { items { id status roles } nextCursor }
}`;

type Page = {
  adminUsers: { items: Array<{ id: string; status: string; roles: string[] }>; nextCursor: string | null };
};

/** Opens a subscription and resolves once it streams, so a later close is of an open socket. */
async function openSocket(app: TestApp, token: string) {
  const { client, closes } = wsClient(app.wsUrl, { authorization: `Bearer ${token}` });
  let streaming: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    streaming = resolve;
  });
  const done = new Promise<void>((resolve) => {
    client.subscribe(
      { query: CLOCK },
      { next: () => streaming(), error: () => resolve(), complete: () => resolve() },
    );
  });
  return { client, closes, started, done };
}

const waitForClose = async (closes: Array<{ code: number; reason: string }>) => {
  for (let i = 0; i < 200 && closes.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  return closes[0];
};

describe('moderation: bans, roles, search, audit', () => {
  let app: TestApp;
  let admin: AuthTokens;
  let moderator: AuthTokens;

  beforeAll(async () => {
    app = await startTestApp();
    admin = await app.signIn(['user', 'admin']);
    moderator = await app.signIn(['user', 'moderator']);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('refuses a banned user over HTTP with BANNED (403) and the ban in extensions', async () => {
    const user = await app.signIn();
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const banned = await gql(
      app.url,
      BAN,
      { id: user.userId, reason: 'spam', until },
      { token: moderator.accessToken },
    );
    expect(banned.errors).toBeUndefined();
    expect(banned.data).toEqual({
      banUser: { id: user.userId, status: 'banned', ban: { reason: 'spam', until } },
    });
    const me = await gql(app.url, ME, {}, { token: user.accessToken });
    expect(me.status).toBe(403);
    expect(me.errors?.[0]?.extensions).toEqual({ code: 'BANNED', banReason: 'spam', bannedUntil: until });

    const unbanned = await gql(app.url, UNBAN, { id: user.userId }, { token: moderator.accessToken });
    expect(unbanned.data).toEqual({ unbanUser: { id: user.userId, status: 'active', ban: null } });
    expect((await gql(app.url, ME, {}, { token: user.accessToken })).status).toBe(200);
  });

  it('refuses the WebSocket connection with 4403 BANNED', async () => {
    const user = await app.signIn();
    await app.services.moderation.ban(
      {
        principal: {
          userId: admin.userId,
          role: 'admin',
          allowedRoles: ['admin'],
          issuer: 'x',
          sessionId: undefined,
          tokenExpiresAt: new Date(),
        },
        requestId: 'test',
      },
      user.userId,
      'abuse',
      null,
    );
    const { client, closes } = wsClient(app.wsUrl, { authorization: `Bearer ${user.accessToken}` });
    client.subscribe({ query: CLOCK }, { next: () => {}, error: () => {}, complete: () => {} });
    const closed = await waitForClose(closes);
    expect(closed?.code).toBe(4403);
    expect(closed?.reason).toBe('BANNED: abuse');
    await client.dispose();
  });

  it('closes an open socket of a user when they are banned', async () => {
    const user = await app.signIn();
    const socket = await openSocket(app, user.accessToken);
    await socket.started;
    const banned = await gql(
      app.url,
      BAN,
      { id: user.userId, reason: 'fraud' },
      { token: admin.accessToken },
    );
    expect(banned.errors).toBeUndefined();
    const closed = await waitForClose(socket.closes);
    expect(closed).toMatchObject({ code: 4403, reason: 'BANNED' });
    await socket.done;
    await socket.client.dispose();
  });

  it('lets a ban end by itself at its until', async () => {
    const user = await app.signIn();
    const now = app.services.clock.now();
    // Set directly: the API refuses an end in the past, and the test must not sleep.
    await app.database.handle.db
      .updateTable('user.users')
      .set({ ban_reason: 'cool-off', banned_at: now, ban_until: new Date(now.getTime() - 1000) })
      .where('id', '=', user.userId)
      .execute();
    app.services.accounts.forgetAccounts();
    expect((await gql(app.url, ME, {}, { token: user.accessToken })).status).toBe(200);
    const found = await gql<Page>(
      app.url,
      SEARCH,
      { filter: { query: user.userId } },
      { token: admin.accessToken },
    );
    expect(found.data?.adminUsers.items).toEqual([{ id: user.userId, status: 'active', roles: ['user'] }]);
  });

  it('does not let moderators ban admins, nor anyone ban themselves', async () => {
    const other = await app.signIn(['user', 'admin']);
    const byModerator = await gql(
      app.url,
      BAN,
      { id: other.userId, reason: 'x' },
      { token: moderator.accessToken },
    );
    expect(errorCodes(byModerator)).toEqual(['FORBIDDEN']);
    const self = await gql(
      app.url,
      BAN,
      { id: moderator.userId, reason: 'x' },
      { token: moderator.accessToken },
    );
    expect(errorCodes(self)).toEqual(['FORBIDDEN']);
    const past = await gql(
      app.url,
      BAN,
      { id: other.userId, reason: 'x', until: new Date(Date.now() - 60_000).toISOString() },
      { token: admin.accessToken },
    );
    expect(errorCodes(past)).toEqual(['BAD_USER_INPUT']);
    expect((await gql(app.url, ME, {}, { token: other.accessToken })).status).toBe(200);
  });

  it('never lets a moderator grant or remove the admin role', async () => {
    const user = await app.signIn();
    const grant = await gql(
      app.url,
      SET_ROLES,
      { id: user.userId, roles: ['user', 'admin'] },
      { token: moderator.accessToken },
    );
    expect(errorCodes(grant)).toEqual(['FORBIDDEN']);
    const remove = await gql(
      app.url,
      SET_ROLES,
      { id: admin.userId, roles: ['user'] },
      { token: moderator.accessToken },
    );
    expect(errorCodes(remove)).toEqual(['FORBIDDEN']);
    // Nor through the service, whatever the resolver's scope says.
    const asModerator = {
      principal: {
        userId: moderator.userId,
        role: 'moderator' as const,
        allowedRoles: ['moderator' as const],
        issuer: 'x',
        sessionId: undefined,
        tokenExpiresAt: new Date(),
      },
      requestId: 'test',
    };
    await expect(
      app.services.moderation.setRoles(asModerator, user.userId, ['user', 'admin'], 'x'),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await app.services.accounts.getUser(user.userId)).roles).toEqual(['user']);
    expect((await app.services.accounts.getUser(admin.userId)).roles).toEqual(['user', 'admin']);
  });

  it('applies role changes at once and keeps an admin from removing their own admin role', async () => {
    const user = await app.signIn();
    expect(
      (await gql(app.url, ME, {}, { token: user.accessToken, headers: { 'x-hasura-role': 'user' } })).status,
    ).toBe(200);
    const granted = await gql(
      app.url,
      SET_ROLES,
      { id: user.userId, roles: ['user', 'streamer'] },
      { token: admin.accessToken },
    );
    expect(granted.data).toEqual({ setUserRoles: { id: user.userId, roles: ['user', 'streamer'] } });
    const removed = await gql(
      app.url,
      SET_ROLES,
      { id: user.userId, roles: ['streamer'] },
      { token: admin.accessToken },
    );
    expect(removed.errors).toBeUndefined();
    // The cached account (5 s) was dropped: the removed role is refused on the very next request.
    const asUser = await gql(
      app.url,
      ME,
      {},
      { token: user.accessToken, headers: { 'x-hasura-role': 'user' } },
    );
    expect(errorCodes(asUser)).toEqual(['FORBIDDEN']);

    const own = await gql(
      app.url,
      SET_ROLES,
      { id: admin.userId, roles: ['user'] },
      { token: admin.accessToken },
    );
    expect(errorCodes(own)).toEqual(['FORBIDDEN']);
    expect((await app.services.accounts.getUser(admin.userId)).roles).toContain('admin');
  });

  it('records every admin action in the audit log', async () => {
    const user = await app.signIn();
    await gql(
      app.url,
      SET_ROLES,
      { id: user.userId, roles: ['user', 'streamer'] },
      { token: admin.accessToken },
    );
    await gql(app.url, BAN, { id: user.userId, reason: 'spam' }, { token: moderator.accessToken });
    await gql(app.url, UNBAN, { id: user.userId }, { token: admin.accessToken });
    const refused = await gql(
      app.url,
      SET_ROLES,
      { id: user.userId, roles: ['admin'] },
      { token: moderator.accessToken },
    );
    expect(errorCodes(refused)).toEqual(['FORBIDDEN']);
    const log = await gql<{ auditLog: { items: Array<Record<string, unknown>> } }>(
      app.url,
      AUDIT,
      { targetId: user.userId },
      { token: admin.accessToken },
    );
    expect(log.data?.auditLog.items).toEqual([
      {
        action: 'user.unbanned',
        targetId: user.userId,
        actorId: admin.userId,
        reason: 'appeal',
        before: { ban: { reason: 'spam', until: null, bannedBy: moderator.userId } },
        after: { ban: null },
      },
      {
        action: 'user.banned',
        targetId: user.userId,
        actorId: moderator.userId,
        reason: 'spam',
        before: { ban: null },
        after: { ban: { reason: 'spam', until: null, bannedBy: moderator.userId } },
      },
      {
        action: 'user.roles_changed',
        targetId: user.userId,
        actorId: admin.userId,
        reason: 'promotion',
        before: { roles: ['user'] },
        after: { roles: ['user', 'streamer'] },
      },
    ]);
    const events = await app.database.handle.db
      .selectFrom('event_log.events')
      .select('type')
      .where('user_id', '=', user.userId)
      .where('type', 'in', ['user_banned', 'user_unbanned'])
      .orderBy('position')
      .execute();
    expect(events.map((e) => e.type)).toEqual(['user_banned', 'user_unbanned']);
  });

  it('searches accounts by id, email, role, status and creation time, page by page', async () => {
    const from = new Date();
    const streamerA = await app.signIn(['user', 'streamer']);
    const streamerB = await app.signIn(['user', 'streamer']);
    const streamerC = await app.signIn(['user', 'streamer']);
    await gql(app.url, BAN, { id: streamerB.userId, reason: 'spam' }, { token: admin.accessToken });
    const email = `find-me-${Date.now()}@example.com`;
    await app.database.handle.db
      .insertInto('user.credentials')
      .values({ user_id: streamerA.userId, kind: 'email', identifier: email, password_hash: 'x' })
      .execute();
    const search = (variables: Record<string, unknown>, token = moderator.accessToken) =>
      gql<Page>(app.url, SEARCH, variables, { token });
    const ids = (page: Awaited<ReturnType<typeof search>>) => page.data?.adminUsers.items.map((u) => u.id);

    expect(ids(await search({ filter: { query: email.toUpperCase() } }))).toEqual([streamerA.userId]);
    const recent = { role: 'streamer', createdFrom: from.toISOString() };
    expect(ids(await search({ filter: recent }))).toEqual([
      streamerC.userId,
      streamerB.userId,
      streamerA.userId,
    ]);
    expect(ids(await search({ filter: { ...recent, status: 'banned' } }))).toEqual([streamerB.userId]);
    expect(ids(await search({ filter: { ...recent, status: 'active' }, sort: 'CREATED_AT_ASC' }))).toEqual([
      streamerA.userId,
      streamerC.userId,
    ]);
    expect(ids(await search({ filter: { ...recent, createdTo: from.toISOString() } }))).toEqual([]);

    const first = await search({ filter: recent, sort: 'CREATED_AT_ASC', first: 2 });
    expect(ids(first)).toEqual([streamerA.userId, streamerB.userId]);
    const second = await search({
      filter: recent,
      sort: 'CREATED_AT_ASC',
      first: 2,
      after: first.data?.adminUsers.nextCursor,
    });
    expect(ids(second)).toEqual([streamerC.userId]);
    expect(second.data?.adminUsers.nextCursor).toBeNull();

    const bad = await search({ after: 'nonsense' });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });

  it('shows one account in detail to staff, and nothing to users', async () => {
    const user = await app.signIn();
    const DETAIL = `query($id: ID!) { adminUser(id: $id) {
      id status roles ban { reason } identities { issuer } credentials { kind identifier } sessions { id deviceName }
    } }`;
    const detail = await gql(app.url, DETAIL, { id: user.userId }, { token: moderator.accessToken });
    expect(detail.data).toEqual({
      adminUser: {
        id: user.userId,
        status: 'active',
        roles: ['user'],
        ban: null,
        identities: [{ issuer: app.config.auth.issuer }],
        credentials: [],
        sessions: [{ id: user.sessionId, deviceName: 'test' }],
      },
    });
    expect(errorCodes(await gql(app.url, DETAIL, { id: user.userId }, { token: user.accessToken }))).toEqual([
      'FORBIDDEN',
    ]);
    expect(errorCodes(await gql(app.url, SEARCH, {}, { token: user.accessToken }))).toEqual(['FORBIDDEN']);
    expect(
      errorCodes(await gql(app.url, BAN, { id: admin.userId, reason: 'x' }, { token: user.accessToken })),
    ).toEqual(['FORBIDDEN']);
  });
});
