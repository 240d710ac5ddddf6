import type { AccountBan, AccountDirectory } from '../../platform/auth/principal.ts';
import type { Role } from '../../platform/auth/roles.ts';
import type { VerifiedToken } from '../../platform/auth/tokens.ts';
import { TtlCache } from '../../platform/cache/ttl-cache.ts';
import type { Clock } from '../../platform/clock.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import { AppError, notFound } from '../../platform/errors/app-error.ts';
import type { EventSink } from '../event_log/event-log.service.ts';
import { type SignUpMethod, userSignUp } from './user.events.ts';
import type { UserRepository, UserRow } from './user.repository.ts';

type Account = { userId: string; roles: Role[]; ban: AccountBan | null };

// Short enough that a role change or sign-out elsewhere shows within seconds; long enough
// that a burst of requests costs one lookup.
const ACCOUNT_CACHE_MS = 5_000;
const SESSION_CACHE_MS = 2_000;

/** Accounts keyed by (issuer, subject), and the roles that bound what a token may claim. */
export class AccountService implements AccountDirectory {
  private readonly repo: UserRepository;
  private readonly oloIssuer: string;
  private readonly accounts: TtlCache<Account>;
  private readonly sessions: TtlCache<boolean>;
  private readonly clock: Clock;
  private readonly events: EventSink;

  constructor(repo: UserRepository, oloIssuer: string, clock: Clock, events: EventSink) {
    this.repo = repo;
    this.clock = clock;
    this.events = events;
    this.oloIssuer = oloIssuer;
    this.accounts = new TtlCache({ ttlMs: ACCOUNT_CACHE_MS, maxEntries: 50_000, clock });
    this.sessions = new TtlCache({ ttlMs: SESSION_CACHE_MS, maxEntries: 50_000, clock });
  }

  get oloIssuerName(): string {
    return this.oloIssuer;
  }

  async accountFor(token: VerifiedToken): Promise<Account> {
    return this.accounts.getOrLoad(`${token.issuer}\n${token.subject}`, async () => {
      if (token.issuerKind === 'olo') {
        const user = await this.repo.findUser(token.subject);
        if (!user || user.status === 'deleted')
          throw new AppError('UNAUTHENTICATED', 'Account no longer exists', { reason: 'revoked' });
        return {
          userId: user.id,
          roles: user.roles,
          ban: user.ban && { reason: user.ban.reason, until: user.ban.until },
        };
      }
      return this.findOrCreateByIdentity(token.issuer, token.subject);
    });
  }

  async isSessionActive(sessionId: string): Promise<boolean> {
    return this.sessions.getOrLoad(sessionId, () => this.repo.isSessionActive(sessionId));
  }

  /** The first valid token of an unknown subject creates the account with role `user`. */
  async findOrCreateByIdentity(issuer: string, subject: string): Promise<Account> {
    const existing = await this.repo.findIdentity(issuer, subject);
    if (existing) {
      if (existing.status === 'deleted')
        throw new AppError('UNAUTHENTICATED', 'Account no longer exists', { reason: 'revoked' });
      return {
        userId: existing.userId,
        roles: existing.roles,
        ban:
          existing.bannedAt && existing.banReason !== null
            ? { reason: existing.banReason, until: existing.banUntil }
            : null,
      };
    }
    const account = await withTransaction(this.repo.db, async (tx) => {
      const user = await this.repo.createUser(tx);
      const owner = await this.repo.insertIdentity(tx, user.id, issuer, subject);
      if (owner === user.id) {
        await this.events.emit(
          tx,
          userSignUp.event({ userId: user.id, method: 'external', issuer }, { userId: user.id }),
        );
        return { userId: user.id, roles: user.roles, created: true };
      }
      // A concurrent first request won the race: drop ours, use theirs.
      await this.repo.deleteUser(tx, user.id);
      const found = await this.repo.findIdentity(issuer, subject, tx);
      if (!found) throw new Error('identity vanished during creation');
      return { userId: found.userId, roles: found.roles, created: false };
    });
    if (account.created) {
      // The first sign-in through an outside issuer (Firebase) is recorded like a built-in one.
      await this.repo.recordLoginAttempt({
        method: 'external_token',
        identifier: `${issuer}|${subject}`,
        ip: null,
        userId: account.userId,
        success: true,
        reason: 'account_created',
        at: this.clock.now(),
      });
    }
    return { userId: account.userId, roles: account.roles, ban: null };
  }

  /**
   * An account under OLO's own issuer, created directly (demo data, tools, tests). `method` says how
   * it will sign in, for the user_sign_up event; the caller adds that credential.
   */
  async createOloAccount(
    roles: Role[] = ['user'],
    options: { method?: Exclude<SignUpMethod, 'external'> } = {},
  ): Promise<UserRow> {
    return withTransaction(this.repo.db, async (tx) => {
      const user = await this.repo.createUser(tx, roles);
      await this.repo.insertIdentity(tx, user.id, this.oloIssuer, user.id);
      await this.emitSignUp(tx, user.id, options.method ?? 'email');
      return user;
    });
  }

  /** Records that an OLO-issued account was created, in the transaction that created it. */
  async emitSignUp(tx: Tx, userId: string, method: Exclude<SignUpMethod, 'external'>): Promise<void> {
    await this.events.emit(tx, userSignUp.event({ userId, method }, { userId }));
  }

  async getUser(id: string): Promise<UserRow> {
    const user = await this.repo.findUser(id);
    if (!user) throw notFound('User');
    return user;
  }

  async setRoles(userId: string, roles: Role[]): Promise<void> {
    await this.repo.setRoles(this.repo.db, userId, roles);
    this.forgetAccounts();
  }

  /**
   * Drops every cached account in this process, after a change of roles, ban or deletion. The cache
   * is keyed by (issuer, subject), not by user, so it is cleared whole; changes are rare. Other
   * nodes do the same when they hear of the change on pubsub (channels.accountsChanged/usersBanned).
   */
  forgetAccounts(): void {
    this.accounts.clear();
  }

  /** Forget cached session state after a sign-out in this process. */
  forgetSessions(sessionIds: string[]): void {
    for (const id of sessionIds) this.sessions.delete(id);
  }
}
