import type { Clock } from '../clock.ts';
import { AppError } from '../errors/app-error.ts';
import { isRole, primaryRole, type Role } from './roles.ts';
import type { TokenService, VerifiedToken } from './tokens.ts';

/** Who is calling, as which role. Built once per request or WebSocket connection. */
export type Principal = {
  userId: string;
  role: Role;
  allowedRoles: Role[];
  issuer: string;
  sessionId: string | undefined;
  tokenExpiresAt: Date;
};

/** A ban on the account; it ends by itself at `until` (never when null). */
export type AccountBan = { reason: string; until: Date | null };

/** What authentication needs from the user domain, kept as an interface so the platform does not depend on it. */
export type AccountDirectory = {
  /** The account behind a verified token, created on first sight (role `user`). */
  accountFor(token: VerifiedToken): Promise<{ userId: string; roles: Role[]; ban?: AccountBan | null }>;
  isSessionActive(sessionId: string): Promise<boolean>;
};

export function bearerToken(authorization: unknown): string | undefined {
  if (typeof authorization !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  return match?.[1];
}

export class Authenticator {
  private readonly tokens: TokenService;
  private readonly accounts: AccountDirectory;
  private readonly clock: Clock;

  constructor(tokens: TokenService, accounts: AccountDirectory, clock: Clock) {
    this.tokens = tokens;
    this.accounts = accounts;
    this.clock = clock;
  }

  /**
   * Anonymous when there is no token; UNAUTHENTICATED when the token is bad; BANNED when the account
   * is banned; FORBIDDEN when
   * the requested role is not allowed. The account's roles in the database bound what a token may claim,
   * so removing a role takes effect without waiting for tokens to expire.
   */
  async authenticate(authorization: unknown, requestedRole: unknown): Promise<Principal | null> {
    if (authorization === undefined || authorization === null || authorization === '') return null;
    const raw = bearerToken(authorization);
    if (!raw)
      throw new AppError('UNAUTHENTICATED', 'Authorization must be "Bearer <token>"', {
        reason: 'malformed',
      });
    const token = await this.tokens.verify(raw);
    if (token.sessionId && !(await this.accounts.isSessionActive(token.sessionId))) {
      throw new AppError('UNAUTHENTICATED', 'Session was signed out', { reason: 'revoked' });
    }
    const account = await this.accounts.accountFor(token);
    const ban = account.ban;
    // Checked on every request (not cached as a verdict) so a ban ends by itself at `until`.
    if (ban && (ban.until === null || ban.until > this.clock.now())) {
      throw new AppError('BANNED', 'This account is banned', {
        banReason: ban.reason,
        bannedUntil: ban.until?.toISOString() ?? null,
      });
    }
    const allowedRoles = token.claimedRoles
      ? token.claimedRoles.filter((r) => account.roles.includes(r))
      : account.roles;
    if (allowedRoles.length === 0)
      throw new AppError('FORBIDDEN', 'None of the token roles is granted to this account');
    let role: Role;
    if (requestedRole !== undefined && requestedRole !== null && requestedRole !== '') {
      if (!isRole(requestedRole) || !allowedRoles.includes(requestedRole)) {
        throw new AppError('FORBIDDEN', `Role "${String(requestedRole)}" is not among the allowed roles`);
      }
      role = requestedRole;
    } else {
      role =
        token.claimedDefaultRole && allowedRoles.includes(token.claimedDefaultRole)
          ? token.claimedDefaultRole
          : primaryRole(allowedRoles);
    }
    return {
      userId: account.userId,
      role,
      allowedRoles,
      issuer: token.issuer,
      sessionId: token.sessionId,
      tokenExpiresAt: token.expiresAt,
    };
  }
}
