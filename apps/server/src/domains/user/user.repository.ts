import { sql } from 'kysely';
import type { Role } from '../../platform/auth/roles.ts';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { LoginMethod, PushKind, PushPlatform, UserStatus } from './user.tables.ts';

type Executor = Db | Tx;

export type Ban = { reason: string; until: Date | null; bannedAt: Date; bannedBy: string | null };

export type UserRow = {
  id: string;
  roles: Role[];
  createdAt: Date;
  status: UserStatus;
  deletedAt: Date | null;
  /** The last ban set, which may have ended by itself (see `isBanActive`). */
  ban: Ban | null;
};

export const isBanActive = (ban: Ban | null, now: Date): ban is Ban =>
  ban !== null && (ban.until === null || ban.until > now);

const USER_COLUMNS = [
  'id',
  'roles',
  'created_at',
  'status',
  'deleted_at',
  'ban_reason',
  'ban_until',
  'banned_at',
  'banned_by',
] as const;

type UserColumns = {
  id: string;
  roles: Role[];
  created_at: Date;
  status: UserStatus;
  deleted_at: Date | null;
  ban_reason: string | null;
  ban_until: Date | null;
  banned_at: Date | null;
  banned_by: string | null;
};

const toUser = (row: UserColumns): UserRow => ({
  id: row.id,
  roles: row.roles,
  createdAt: row.created_at,
  status: row.status,
  deletedAt: row.deleted_at,
  ban:
    row.banned_at && row.ban_reason !== null
      ? { reason: row.ban_reason, until: row.ban_until, bannedAt: row.banned_at, bannedBy: row.banned_by }
      : null,
});

export type SessionRow = {
  id: string;
  deviceName: string | null;
  userAgent: string | null;
  ip: string | null;
  createdAt: Date;
  lastSeenAt: Date;
  revokedAt: Date | null;
  revokeReason: string | null;
};

export type PushTokenRow = {
  id: string;
  sessionId: string | null;
  platform: PushPlatform;
  kind: PushKind;
  token: string;
  createdAt: Date;
  updatedAt: Date;
};

/** What the admin list shows beside the account, read from the profile and presence views. */
export type UserListing = {
  displayName: string | null;
  country: string | null;
  online: boolean;
  onlineSince: Date | null;
  lastSeenAt: Date | null;
};

export type AdminUserRow = UserRow & { listing?: UserListing };

/**
 * Where the previous page ended. `rank` is 1 for an account online when that page was read (last-seen
 * sorts only: online accounts count as seen now and come before offline ones), `at` the sort time.
 */
export type UserSearchCursor = { rank: number; at: Date; id: string };

export type UserSort = 'created_at' | 'last_seen';

export type UserSearch = {
  query: { id: string } | { identifier: string } | null;
  role: Role | null;
  status: 'active' | 'banned' | 'deleted' | null;
  createdFrom: Date | null;
  createdTo: Date | null;
  /** Case-insensitive substring of the display name. */
  name: string | null;
  /** ISO 3166-1 alpha-2, upper case. */
  country: string | null;
  online: boolean | null;
  /** The install's media source (ads domain); 'organic' also matches accounts without attribution. */
  mediaSource: string | null;
  campaign: string | null;
  sort: UserSort;
  ascending: boolean;
  after: UserSearchCursor | null;
  limit: number;
  now: Date;
};

export type UserSearchResult = { user: AdminUserRow; cursor: UserSearchCursor };

// ILIKE treats % and _ as wildcards and \ as their escape: a typed name matches literally.
const likeSubstring = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** The only code that reads or writes the `user` schema. */
export class UserRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async findUser(id: string, ex: Executor = this.db): Promise<UserRow | undefined> {
    const row = await ex
      .selectFrom('user.users')
      .select(USER_COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toUser(row);
  }

  /** The row locked for an admin change, so concurrent changes apply one after the other. */
  async lockUser(tx: Tx, id: string): Promise<UserRow | undefined> {
    const row = await tx
      .selectFrom('user.users')
      .select(USER_COLUMNS)
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    return row && toUser(row);
  }

  async createUser(ex: Executor, roles: Role[] = ['user']): Promise<UserRow> {
    const row = await ex
      .insertInto('user.users')
      .values({ roles })
      .returning(USER_COLUMNS)
      .executeTakeFirstOrThrow();
    return toUser(row);
  }

  async setRoles(ex: Executor, userId: string, roles: Role[]): Promise<void> {
    await ex
      .updateTable('user.users')
      .set({ roles, updated_at: new Date() })
      .where('id', '=', userId)
      .execute();
  }

  async findIdentity(issuer: string, subject: string, ex: Executor = this.db) {
    return ex
      .selectFrom('user.identities')
      .innerJoin('user.users', 'user.users.id', 'user.identities.user_id')
      .select([
        'user.users.id as userId',
        'user.users.roles as roles',
        'user.users.status as status',
        'user.users.ban_reason as banReason',
        'user.users.ban_until as banUntil',
        'user.users.banned_at as bannedAt',
        'user.users.banned_by as bannedBy',
      ])
      .where('issuer', '=', issuer)
      .where('subject', '=', subject)
      .executeTakeFirst();
  }

  /** Inserts the identity unless a concurrent request already did; returns the owner either way. */
  async insertIdentity(ex: Executor, userId: string, issuer: string, subject: string): Promise<string> {
    const inserted = await ex
      .insertInto('user.identities')
      .values({ user_id: userId, issuer, subject })
      .onConflict((oc) => oc.columns(['issuer', 'subject']).doNothing())
      .returning('user_id')
      .executeTakeFirst();
    if (inserted) return inserted.user_id;
    const existing = await ex
      .selectFrom('user.identities')
      .select('user_id')
      .where('issuer', '=', issuer)
      .where('subject', '=', subject)
      .executeTakeFirstOrThrow();
    return existing.user_id;
  }

  async deleteUser(ex: Executor, userId: string): Promise<void> {
    await ex.deleteFrom('user.users').where('id', '=', userId).execute();
  }

  async findCredential(kind: 'phone' | 'email', identifier: string, ex: Executor = this.db) {
    return ex
      .selectFrom('user.credentials')
      .select(['user_id as userId', 'password_hash as passwordHash'])
      .where('kind', '=', kind)
      .where('identifier', '=', identifier)
      .executeTakeFirst();
  }

  async insertCredential(
    ex: Executor,
    input: { userId: string; kind: 'phone' | 'email'; identifier: string; passwordHash?: string },
  ): Promise<boolean> {
    const row = await ex
      .insertInto('user.credentials')
      .values({
        user_id: input.userId,
        kind: input.kind,
        identifier: input.identifier,
        password_hash: input.passwordHash ?? null,
      })
      .onConflict((oc) => oc.columns(['kind', 'identifier']).doNothing())
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async insertOtpChallenge(
    ex: Executor,
    input: { phone: string; ip: string | null; codeHash: string; expiresAt: Date; at: Date },
  ) {
    return ex
      .insertInto('user.otp_challenges')
      .values({
        phone: input.phone,
        ip: input.ip,
        code_hash: input.codeHash,
        expires_at: input.expiresAt,
        created_at: input.at,
      })
      .returning(['id'])
      .executeTakeFirstOrThrow();
  }

  async countOtpChallengesSince(by: { phone: string } | { ip: string }, since: Date): Promise<number> {
    let query = this.db
      .selectFrom('user.otp_challenges')
      .select((eb) => eb.fn.countAll<bigint>().as('n'))
      .where('created_at', '>', since);
    query = 'phone' in by ? query.where('phone', '=', by.phone) : query.where('ip', '=', by.ip);
    const row = await query.executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** The newest open challenge, locked so that concurrent guesses are counted one by one. */
  async lockOpenOtpChallenge(tx: Tx, phone: string, now: Date) {
    return tx
      .selectFrom('user.otp_challenges')
      .select(['id', 'code_hash as codeHash', 'attempts'])
      .where('phone', '=', phone)
      .where('consumed_at', 'is', null)
      .where('expires_at', '>', now)
      .orderBy('created_at', 'desc')
      .limit(1)
      .forUpdate()
      .executeTakeFirst();
  }

  async updateOtpChallenge(tx: Tx, id: string, set: { attempts?: number; consumedAt?: Date }): Promise<void> {
    await tx
      .updateTable('user.otp_challenges')
      .set({
        ...(set.attempts === undefined ? {} : { attempts: set.attempts }),
        ...(set.consumedAt === undefined ? {} : { consumed_at: set.consumedAt }),
      })
      .where('id', '=', id)
      .execute();
  }

  async recordSms(message: { to: string; body: string; provider: string }): Promise<void> {
    await this.db
      .insertInto('user.sms_outbox')
      .values({ to_phone: message.to, body: message.body, provider: message.provider })
      .execute();
  }

  async latestSms(phone: string) {
    return this.db
      .selectFrom('user.sms_outbox')
      .select(['body', 'created_at as createdAt'])
      .where('to_phone', '=', phone)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  async createSession(
    ex: Executor,
    input: { userId: string; deviceName: string | null; userAgent: string | null; ip: string | null },
  ): Promise<string> {
    const row = await ex
      .insertInto('user.sessions')
      .values({
        user_id: input.userId,
        device_name: input.deviceName,
        user_agent: input.userAgent,
        ip: input.ip,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  async isSessionActive(sessionId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('user.sessions')
      .select('revoked_at')
      .where('id', '=', sessionId)
      .executeTakeFirst();
    return row !== undefined && row.revoked_at === null;
  }

  async revokeSessions(
    ex: Executor,
    where: { sessionId: string; userId?: string } | { userId: string },
    reason: string,
    now: Date,
  ): Promise<string[]> {
    let query = ex
      .updateTable('user.sessions')
      .set({ revoked_at: now, revoke_reason: reason })
      .where('revoked_at', 'is', null);
    if ('sessionId' in where) query = query.where('id', '=', where.sessionId);
    if (where.userId) query = query.where('user_id', '=', where.userId);
    const rows = await query.returning('id').execute();
    const ids = rows.map((r) => r.id);
    // A signed-out device must not keep receiving the account's pushes.
    if (ids.length > 0) await ex.deleteFrom('user.push_tokens').where('session_id', 'in', ids).execute();
    return ids;
  }

  async insertRefreshToken(
    ex: Executor,
    input: { sessionId: string; tokenHash: string; expiresAt: Date },
  ): Promise<void> {
    await ex
      .insertInto('user.refresh_tokens')
      .values({ session_id: input.sessionId, token_hash: input.tokenHash, expires_at: input.expiresAt })
      .execute();
  }

  async lockRefreshToken(tx: Tx, tokenHash: string) {
    return tx
      .selectFrom('user.refresh_tokens')
      .innerJoin('user.sessions', 'user.sessions.id', 'user.refresh_tokens.session_id')
      .select([
        'user.refresh_tokens.id',
        'user.refresh_tokens.session_id as sessionId',
        'user.refresh_tokens.expires_at as expiresAt',
        'user.refresh_tokens.used_at as usedAt',
        'user.sessions.user_id as userId',
        'user.sessions.revoked_at as sessionRevokedAt',
      ])
      .where('token_hash', '=', tokenHash)
      .forUpdate()
      .executeTakeFirst();
  }

  async markRefreshTokenUsed(tx: Tx, id: string, now: Date): Promise<void> {
    await tx.updateTable('user.refresh_tokens').set({ used_at: now }).where('id', '=', id).execute();
  }

  async touchSession(tx: Tx, sessionId: string, now: Date): Promise<void> {
    await tx.updateTable('user.sessions').set({ last_seen_at: now }).where('id', '=', sessionId).execute();
  }

  async recordLoginAttempt(input: {
    method: LoginMethod;
    identifier: string;
    ip: string | null;
    userId: string | null;
    success: boolean;
    reason: string | null;
    at: Date;
  }): Promise<void> {
    await this.db
      .insertInto('user.login_attempts')
      .values({
        method: input.method,
        identifier: input.identifier,
        ip: input.ip,
        user_id: input.userId,
        success: input.success,
        reason: input.reason,
        created_at: input.at,
      })
      .execute();
  }

  /**
   * Failures in the window, newest first (at most `limit`), ignoring attempts refused by the
   * throttle itself so that a locked-out client does not extend its own lock-out.
   */
  async recentFailures(
    by: { identifier: string } | { ip: string },
    since: Date,
    limit: number,
  ): Promise<Date[]> {
    let query = this.db
      .selectFrom('user.login_attempts')
      .select('created_at')
      .where('success', '=', false)
      .where('created_at', '>', since)
      .where(sql<boolean>`coalesce(reason, '') <> 'throttled'`);
    query =
      'identifier' in by ? query.where('identifier', '=', by.identifier) : query.where('ip', '=', by.ip);
    const rows = await query.orderBy('created_at', 'desc').limit(limit).execute();
    return rows.map((r) => r.created_at);
  }

  // --- bans and roles (mission_control acts through the user domain's services) ---

  async setBan(tx: Tx, userId: string, ban: Ban | null): Promise<void> {
    await tx
      .updateTable('user.users')
      .set({
        ban_reason: ban?.reason ?? null,
        ban_until: ban?.until ?? null,
        banned_at: ban?.bannedAt ?? null,
        banned_by: ban?.bannedBy ?? null,
        updated_at: new Date(),
      })
      .where('id', '=', userId)
      .execute();
  }

  /**
   * Admin search, keyset-paginated on (created_at, id) or, for last seen, on (online, online_since or
   * last_seen_at, id). Name, country, presence and attribution come from the views the profile,
   * presence and ads domains publish (`profile.admin_directory`, `presence.user_presence`,
   * `ads.admin_attribution`), read only.
   */
  async searchUsers(search: UserSearch): Promise<UserSearchResult[]> {
    let query = this.db
      .selectFrom('user.users')
      .leftJoin('profile.admin_directory as d', 'd.user_id', 'user.users.id')
      .leftJoin('presence.user_presence as p', 'p.user_id', 'user.users.id')
      .select(USER_COLUMNS)
      .select(['d.display_name', 'd.country', 'p.online', 'p.online_since', 'p.last_seen_at']);
    const q = search.query;
    if (q && 'id' in q) query = query.where('id', '=', q.id);
    if (q && 'identifier' in q) {
      const identifier = q.identifier;
      query = query.where((eb) =>
        eb.exists(
          eb
            .selectFrom('user.credentials')
            .select(sql`1`.as('one'))
            .whereRef('user.credentials.user_id', '=', 'user.users.id')
            .where('user.credentials.identifier', '=', identifier),
        ),
      );
    }
    if (search.role) query = query.where(sql<boolean>`roles @> array[${search.role}]::text[]`);
    const banned = sql<boolean>`(banned_at is not null and (ban_until is null or ban_until > ${search.now}))`;
    if (search.status === 'deleted') query = query.where('status', '=', 'deleted');
    if (search.status === 'banned') query = query.where('status', '=', 'active').where(banned);
    if (search.status === 'active')
      query = query.where('status', '=', 'active').where(sql<boolean>`not ${banned}`);
    if (search.createdFrom) query = query.where('created_at', '>=', search.createdFrom);
    if (search.createdTo) query = query.where('created_at', '<', search.createdTo);
    if (search.name !== null)
      query = query.where(sql<boolean>`d.display_name ilike ${likeSubstring(search.name)}`);
    if (search.country !== null) query = query.where('d.country', '=', search.country);
    if (search.online !== null)
      query = query.where(sql<boolean>`coalesce(p.online, false) = ${search.online}`);
    const attributed = (column: 'media_source' | 'campaign', value: string) =>
      sql<boolean>`exists (select 1 from ads.admin_attribution a where a.user_id = "user".users.id and a.${sql.ref(column)} = ${value})`;
    if (search.mediaSource !== null) {
      // As in the ads daily report, an account without attribution counts as organic.
      query = query.where(
        search.mediaSource === 'organic'
          ? sql<boolean>`(${attributed('media_source', 'organic')} or not exists (select 1 from ads.admin_attribution a where a.user_id = "user".users.id and a.media_source is not null))`
          : attributed('media_source', search.mediaSource),
      );
    }
    if (search.campaign !== null) query = query.where(attributed('campaign', search.campaign));

    // Postgres keeps microseconds, a cursor (a JS Date) milliseconds: order and compare on the latter.
    const rank =
      search.sort === 'last_seen' ? sql<number>`(case when p.online then 1 else 0 end)` : sql<number>`0`;
    const at =
      search.sort === 'last_seen'
        ? sql<Date>`date_trunc('milliseconds', case when p.online then p.online_since else coalesce(p.last_seen_at, timestamptz 'epoch') end)`
        : sql<Date>`date_trunc('milliseconds', created_at)`;
    const direction = search.ascending ? sql`asc` : sql`desc`;
    const compare = search.ascending ? sql`>` : sql`<`;
    if (search.after) {
      const { rank: r, at: t, id } = search.after;
      query =
        search.sort === 'last_seen'
          ? query.where(
              sql<boolean>`(${rank}, ${at}, id) ${compare} (${r}::int, ${t}::timestamptz, ${id}::uuid)`,
            )
          : query.where(sql<boolean>`(${at}, id) ${compare} (${t}::timestamptz, ${id}::uuid)`);
    }
    if (search.sort === 'last_seen') query = query.orderBy(sql`${rank} ${direction}`);
    const rows = await query
      .select([rank.as('sort_rank'), at.as('sort_at')])
      .orderBy(sql`${at} ${direction}`)
      .orderBy(sql`id ${direction}`)
      .limit(search.limit)
      .execute();
    return rows.map((row) => ({
      user: {
        ...toUser(row),
        listing: {
          displayName: row.display_name,
          country: row.country,
          online: row.online ?? false,
          onlineSince: row.online_since,
          lastSeenAt: row.last_seen_at,
        },
      },
      cursor: { rank: Number(row.sort_rank), at: row.sort_at, id: row.id },
    }));
  }

  /** The listing of one account (the admin detail and mutations, which do not go through search). */
  async findListing(userId: string): Promise<UserListing> {
    const [directory, presence] = await Promise.all([
      this.db
        .selectFrom('profile.admin_directory')
        .select(['display_name', 'country'])
        .where('user_id', '=', userId)
        .executeTakeFirst(),
      this.db
        .selectFrom('presence.user_presence')
        .select(['online', 'online_since', 'last_seen_at'])
        .where('user_id', '=', userId)
        .executeTakeFirst(),
    ]);
    return {
      displayName: directory?.display_name ?? null,
      country: directory?.country ?? null,
      online: presence?.online ?? false,
      onlineSince: presence?.online_since ?? null,
      lastSeenAt: presence?.last_seen_at ?? null,
    };
  }

  async listIdentities(userId: string) {
    return this.db
      .selectFrom('user.identities')
      .select(['issuer', 'subject', 'created_at as createdAt', 'last_seen_at as lastSeenAt'])
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute();
  }

  /** Email addresses and phone numbers, never password hashes. */
  async listCredentials(userId: string) {
    return this.db
      .selectFrom('user.credentials')
      .select(['kind', 'identifier', 'created_at as createdAt'])
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute();
  }

  async listSessions(userId: string, options: { includeRevoked: boolean }): Promise<SessionRow[]> {
    let query = this.db
      .selectFrom('user.sessions')
      .select([
        'id',
        'device_name as deviceName',
        'user_agent as userAgent',
        'ip',
        'created_at as createdAt',
        'last_seen_at as lastSeenAt',
        'revoked_at as revokedAt',
        'revoke_reason as revokeReason',
      ])
      .where('user_id', '=', userId);
    if (!options.includeRevoked) query = query.where('revoked_at', 'is', null);
    return query.orderBy('last_seen_at', 'desc').orderBy('id').execute();
  }

  // --- push tokens ---

  /** Registers (kind, token) for this account, taking it from any other account that had it. */
  async upsertPushToken(input: {
    userId: string;
    sessionId: string | null;
    platform: PushPlatform;
    kind: PushKind;
    token: string;
    now: Date;
  }): Promise<PushTokenRow> {
    return this.db
      .insertInto('user.push_tokens')
      .values({
        user_id: input.userId,
        session_id: input.sessionId,
        platform: input.platform,
        kind: input.kind,
        token: input.token,
        created_at: input.now,
        updated_at: input.now,
      })
      .onConflict((oc) =>
        oc.columns(['kind', 'token']).doUpdateSet({
          user_id: input.userId,
          session_id: input.sessionId,
          platform: input.platform,
          updated_at: input.now,
        }),
      )
      .returning(PUSH_COLUMNS)
      .executeTakeFirstOrThrow();
  }

  async deletePushToken(userId: string, kind: PushKind, token: string): Promise<boolean> {
    const rows = await this.db
      .deleteFrom('user.push_tokens')
      .where('user_id', '=', userId)
      .where('kind', '=', kind)
      .where('token', '=', token)
      .returning('id')
      .execute();
    return rows.length > 0;
  }

  async deletePushTokens(kind: PushKind, tokens: readonly string[]): Promise<number> {
    if (tokens.length === 0) return 0;
    const rows = await this.db
      .deleteFrom('user.push_tokens')
      .where('kind', '=', kind)
      .where('token', 'in', [...tokens])
      .returning('id')
      .execute();
    return rows.length;
  }

  async listPushTokens(userId: string): Promise<PushTokenRow[]> {
    return this.db
      .selectFrom('user.push_tokens')
      .select(PUSH_COLUMNS)
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute();
  }

  // --- deletion and export ---

  /**
   * Erases the account's personal data and leaves an anonymised row. Returns the sessions that
   * were open, so their sockets can be closed and caches dropped.
   */
  async eraseUser(tx: Tx, userId: string, now: Date): Promise<string[]> {
    const open = await tx
      .selectFrom('user.sessions')
      .select('id')
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .execute();
    const phones = await tx
      .selectFrom('user.credentials')
      .select('identifier')
      .where('user_id', '=', userId)
      .where('kind', '=', 'phone')
      .execute();
    const phoneNumbers = phones.map((p) => p.identifier);
    if (phoneNumbers.length > 0) {
      await tx.deleteFrom('user.otp_challenges').where('phone', 'in', phoneNumbers).execute();
      await tx.deleteFrom('user.sms_outbox').where('to_phone', 'in', phoneNumbers).execute();
    }
    await tx.deleteFrom('user.push_tokens').where('user_id', '=', userId).execute();
    // Refresh tokens go with their sessions (on delete cascade).
    await tx.deleteFrom('user.sessions').where('user_id', '=', userId).execute();
    await tx.deleteFrom('user.credentials').where('user_id', '=', userId).execute();
    await tx.deleteFrom('user.identities').where('user_id', '=', userId).execute();
    // Attempts stay for abuse statistics, without anything that names the person.
    await tx
      .updateTable('user.login_attempts')
      .set({ identifier: 'deleted', ip: null })
      .where('user_id', '=', userId)
      .execute();
    await tx
      .updateTable('user.users')
      .set({
        status: 'deleted',
        deleted_at: now,
        roles: ['user'],
        ban_reason: null,
        ban_until: null,
        banned_at: null,
        banned_by: null,
        updated_at: now,
      })
      .where('id', '=', userId)
      .execute();
    return open.map((s) => s.id);
  }

  async listLoginAttempts(userId: string) {
    return this.db
      .selectFrom('user.login_attempts')
      .select(['method', 'identifier', 'ip', 'success', 'reason', 'created_at as createdAt'])
      .where('user_id', '=', userId)
      .orderBy('id')
      .execute();
  }
}

const PUSH_COLUMNS = [
  'id',
  'session_id as sessionId',
  'platform',
  'kind',
  'token',
  'created_at as createdAt',
  'updated_at as updatedAt',
] as const;
