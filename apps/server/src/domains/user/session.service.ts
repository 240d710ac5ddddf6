import { createHash, randomBytes } from 'node:crypto';
import type { Role } from '../../platform/auth/roles.ts';
import type { TokenService } from '../../platform/auth/tokens.ts';
import type { Clock } from '../../platform/clock.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import { AppError } from '../../platform/errors/app-error.ts';
import type { EventSink } from '../event_log/event-log.service.ts';
import type { AccountService } from './account.service.ts';
import { userSignedIn } from './user.events.ts';
import type { SessionRow, UserRepository } from './user.repository.ts';

export type DeviceInfo = { deviceName: string | null; userAgent: string | null; ip: string | null };

export type AuthTokens = {
  userId: string;
  sessionId: string;
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
};

export const hashRefreshToken = (token: string) => createHash('sha256').update(token).digest('base64url');

/**
 * Sessions (one per signed-in device) with short-lived access tokens and rotating refresh tokens.
 * Presenting a refresh token that was already rotated means it was copied: the whole session
 * (its token family) is revoked.
 */
export class SessionService {
  private readonly repo: UserRepository;
  private readonly accounts: AccountService;
  private readonly tokens: TokenService;
  private readonly clock: Clock;
  private readonly refreshTtlSeconds: number;
  private readonly onRevoked: (sessionIds: string[]) => Promise<void>;
  private readonly events: EventSink;

  constructor(deps: {
    repo: UserRepository;
    accounts: AccountService;
    tokens: TokenService;
    clock: Clock;
    refreshTtlSeconds: number;
    /** Tells every node (their caches, their sockets) which sessions closed. */
    onRevoked: (sessionIds: string[]) => Promise<void>;
    events: EventSink;
  }) {
    this.repo = deps.repo;
    this.accounts = deps.accounts;
    this.tokens = deps.tokens;
    this.clock = deps.clock;
    this.refreshTtlSeconds = deps.refreshTtlSeconds;
    this.onRevoked = deps.onRevoked;
    this.events = deps.events;
  }

  /** Opens a session inside the caller's sign-in transaction. */
  async open(tx: Tx, user: { id: string; roles: Role[] }, device: DeviceInfo): Promise<AuthTokens> {
    const sessionId = await this.repo.createSession(tx, { userId: user.id, ...device });
    await this.events.emit(
      tx,
      userSignedIn.event({ userId: user.id, sessionId, deviceName: device.deviceName }, { userId: user.id }),
    );
    const refresh = await this.newRefreshToken(tx, sessionId);
    const access = await this.tokens.issueAccessToken({ userId: user.id, sessionId, roles: user.roles });
    return {
      userId: user.id,
      sessionId,
      accessToken: access.accessToken,
      accessTokenExpiresAt: access.expiresAt,
      ...refresh,
    };
  }

  async refresh(refreshToken: string, ip: string | null): Promise<AuthTokens> {
    const now = this.clock.now();
    const outcome = await withTransaction(this.repo.db, async (tx) => {
      const row = await this.repo.lockRefreshToken(tx, hashRefreshToken(refreshToken));
      if (!row) return { kind: 'unknown' } as const;
      if (row.sessionRevokedAt) return { kind: 'revoked', userId: row.userId } as const;
      if (row.usedAt) {
        const revoked = await this.repo.revokeSessions(
          tx,
          { sessionId: row.sessionId },
          'refresh_token_reuse',
          now,
        );
        return { kind: 'reused', userId: row.userId, revoked } as const;
      }
      if (row.expiresAt <= now) return { kind: 'expired', userId: row.userId } as const;
      await this.repo.markRefreshTokenUsed(tx, row.id, now);
      await this.repo.touchSession(tx, row.sessionId, now);
      const user = await this.repo.findUser(row.userId, tx);
      if (!user) return { kind: 'unknown' } as const;
      const next = await this.newRefreshToken(tx, row.sessionId);
      return { kind: 'ok', user, sessionId: row.sessionId, next } as const;
    });
    const identifier = `refresh:${hashRefreshToken(refreshToken).slice(0, 16)}`;
    const record = (success: boolean, reason: string | null, userId: string | null) =>
      this.repo.recordLoginAttempt({ method: 'refresh', identifier, ip, userId, success, reason, at: now });
    if (outcome.kind !== 'ok') {
      if (outcome.kind === 'reused') {
        this.accounts.forgetSessions(outcome.revoked);
        await this.onRevoked(outcome.revoked);
      }
      await record(false, outcome.kind, 'userId' in outcome ? (outcome.userId ?? null) : null);
      const message =
        outcome.kind === 'reused'
          ? 'Refresh token was already used; the session has been signed out'
          : 'Refresh token is not valid';
      throw new AppError('UNAUTHENTICATED', message, { reason: outcome.kind });
    }
    await record(true, null, outcome.user.id);
    const access = await this.tokens.issueAccessToken({
      userId: outcome.user.id,
      sessionId: outcome.sessionId,
      roles: outcome.user.roles,
    });
    return {
      userId: outcome.user.id,
      sessionId: outcome.sessionId,
      accessToken: access.accessToken,
      accessTokenExpiresAt: access.expiresAt,
      ...outcome.next,
    };
  }

  /** Signs out one session, or every session of the user. Returns how many were open. */
  async signOut(userId: string, target: { sessionId: string } | 'all'): Promise<number> {
    const now = this.clock.now();
    const revoked = await this.repo.revokeSessions(
      this.repo.db,
      target === 'all' ? { userId } : { sessionId: target.sessionId, userId },
      target === 'all' ? 'sign_out_all' : 'sign_out',
      now,
    );
    this.accounts.forgetSessions(revoked);
    if (revoked.length > 0) await this.onRevoked(revoked);
    return revoked.length;
  }

  /** The account's signed-in devices, most recently used first. */
  async listOpen(userId: string): Promise<SessionRow[]> {
    return this.repo.listSessions(userId, { includeRevoked: false });
  }

  /** Signs out one of the caller's own sessions; NOT_FOUND for anyone else's (or an ended one). */
  async revokeOwn(userId: string, sessionId: string): Promise<void> {
    const closed = await this.signOut(userId, { sessionId });
    if (closed === 0) throw new AppError('NOT_FOUND', 'Session not found');
  }

  private async newRefreshToken(tx: Tx, sessionId: string) {
    const refreshToken = randomBytes(32).toString('base64url');
    const refreshTokenExpiresAt = new Date(this.clock.now().getTime() + this.refreshTtlSeconds * 1000);
    await this.repo.insertRefreshToken(tx, {
      sessionId,
      tokenHash: hashRefreshToken(refreshToken),
      expiresAt: refreshTokenExpiresAt,
    });
    return { refreshToken, refreshTokenExpiresAt };
  }
}
