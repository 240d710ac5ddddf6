import type { Clock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { badInput, notFound } from '../../platform/errors/app-error.ts';
import type { EventSink } from '../event_log/event-log.service.ts';
import type { AccountService } from './account.service.ts';
import { userDeleted } from './user.events.ts';
import { isBanActive, type UserRepository } from './user.repository.ts';

export const DELETE_CONFIRMATION = 'DELETE';

/** Another domain's part of `exportData`, under its own key of the export. */
export type DataExporter = { section: string; exportFor(userId: string): Promise<unknown> };

/**
 * Deletion at the user's request and the export of what the user domain holds about them (GDPR
 * articles 17 and 15). Other domains erase and export their own data (see docs/users.md).
 */
export class AccountDeletionService {
  private readonly repo: UserRepository;
  private readonly accounts: AccountService;
  private readonly events: EventSink;
  private readonly clock: Clock;
  private readonly onSessionsEnded: (sessionIds: string[]) => Promise<void>;
  private readonly onAccountChanged: (userId: string) => Promise<void>;
  private readonly exporters: readonly DataExporter[];

  constructor(deps: {
    repo: UserRepository;
    accounts: AccountService;
    events: EventSink;
    clock: Clock;
    /** Closes the deleted account's sockets on every node (channels.sessionsRevoked). */
    onSessionsEnded: (sessionIds: string[]) => Promise<void>;
    /** Drops cached accounts on every node (channels.accountsChanged). */
    onAccountChanged: (userId: string) => Promise<void>;
    /** The other domains' parts of the export, each read through that domain's own service. */
    exporters: readonly DataExporter[];
  }) {
    this.repo = deps.repo;
    this.accounts = deps.accounts;
    this.events = deps.events;
    this.clock = deps.clock;
    this.onSessionsEnded = deps.onSessionsEnded;
    this.onAccountChanged = deps.onAccountChanged;
    this.exporters = deps.exporters;
  }

  async deleteAccount(userId: string, confirm: string): Promise<void> {
    if (confirm !== DELETE_CONFIRMATION)
      throw badInput(`confirm must be "${DELETE_CONFIRMATION}"`, { field: 'confirm' });
    const now = this.clock.now();
    const sessionIds = await withTransaction(this.repo.db, async (tx) => {
      const user = await this.repo.lockUser(tx, userId);
      if (!user || user.status === 'deleted') throw notFound('User');
      const ended = await this.repo.eraseUser(tx, userId, now);
      await this.events.emit(tx, userDeleted.event({ userId }, { userId }));
      return ended;
    });
    this.accounts.forgetSessions(sessionIds);
    this.accounts.forgetAccounts();
    if (sessionIds.length > 0) await this.onSessionsEnded(sessionIds);
    await this.onAccountChanged(userId);
  }

  /**
   * Everything held about the account: the user domain's data, then one section per exporter (profile,
   * media, KYC…). Never password or token hashes, file bytes or download URLs.
   */
  async exportData(userId: string): Promise<Record<string, unknown>> {
    const user = await this.repo.findUser(userId);
    if (!user) throw notFound('User');
    const now = this.clock.now();
    const [identities, credentials, sessions, pushTokens, attempts, sections] = await Promise.all([
      this.repo.listIdentities(userId),
      this.repo.listCredentials(userId),
      this.repo.listSessions(userId, { includeRevoked: true }),
      this.repo.listPushTokens(userId),
      this.repo.listLoginAttempts(userId),
      Promise.all(this.exporters.map(async (e) => [e.section, await e.exportFor(userId)] as const)),
    ]);
    return {
      ...Object.fromEntries(sections),
      exportedAt: now.toISOString(),
      account: {
        id: user.id,
        roles: user.roles,
        status: user.status,
        createdAt: user.createdAt.toISOString(),
        ban: isBanActive(user.ban, now)
          ? { reason: user.ban.reason, until: user.ban.until?.toISOString() ?? null }
          : null,
      },
      identities: identities.map((i) => ({
        issuer: i.issuer,
        subject: i.subject,
        createdAt: i.createdAt.toISOString(),
        lastSeenAt: i.lastSeenAt.toISOString(),
      })),
      credentials: credentials.map((c) => ({
        kind: c.kind,
        identifier: c.identifier,
        createdAt: c.createdAt.toISOString(),
      })),
      sessions: sessions.map((s) => ({
        id: s.id,
        deviceName: s.deviceName,
        userAgent: s.userAgent,
        ip: s.ip,
        createdAt: s.createdAt.toISOString(),
        lastSeenAt: s.lastSeenAt.toISOString(),
        revokedAt: s.revokedAt?.toISOString() ?? null,
        revokeReason: s.revokeReason,
      })),
      pushTokens: pushTokens.map((p) => ({
        kind: p.kind,
        platform: p.platform,
        token: p.token,
        sessionId: p.sessionId,
        createdAt: p.createdAt.toISOString(),
      })),
      loginAttempts: attempts.map((a) => ({
        method: a.method,
        // A refresh attempt's identifier is a prefix of the token's hash: not personal, not exported.
        identifier: a.method === 'refresh' ? null : a.identifier,
        ip: a.ip,
        success: a.success,
        reason: a.reason,
        at: a.createdAt.toISOString(),
      })),
    };
  }
}
