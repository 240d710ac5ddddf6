import { sql } from 'kysely';
import type { Role } from '../../platform/auth/roles.ts';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { LoginMethod } from './user.tables.ts';

type Executor = Db | Tx;

export type UserRow = { id: string; roles: Role[]; createdAt: Date };

/** The only code that reads or writes the `user` schema. */
export class UserRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async findUser(id: string, ex: Executor = this.db): Promise<UserRow | undefined> {
    const row = await ex
      .selectFrom('user.users')
      .select(['id', 'roles', 'created_at'])
      .where('id', '=', id)
      .executeTakeFirst();
    return row && { id: row.id, roles: row.roles, createdAt: row.created_at };
  }

  async createUser(ex: Executor, roles: Role[] = ['user']): Promise<UserRow> {
    const row = await ex
      .insertInto('user.users')
      .values({ roles })
      .returning(['id', 'roles', 'created_at'])
      .executeTakeFirstOrThrow();
    return { id: row.id, roles: row.roles, createdAt: row.created_at };
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
      .select(['user.users.id as userId', 'user.users.roles as roles'])
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
    return rows.map((r) => r.id);
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
}
