import type { Principal } from '../../platform/auth/principal.ts';
import { ROLES, type Role } from '../../platform/auth/roles.ts';
import type { Clock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { badInput, conflict, forbidden, notFound } from '../../platform/errors/app-error.ts';
import type { EventSink } from '../event_log/event-log.service.ts';
import type { AuditActor, AuditLog } from '../mission_control/audit-log.ts';
import type { AccountService } from './account.service.ts';
import { userBanned, userUnbanned } from './user.events.ts';
import {
  type Ban,
  isBanActive,
  type UserRepository,
  type UserRow,
  type UserSearch,
  type UserSearchResult,
} from './user.repository.ts';

export type AccountStatus = 'active' | 'banned' | 'deleted';

export const accountStatus = (user: UserRow, now: Date): AccountStatus =>
  user.status === 'deleted' ? 'deleted' : isBanActive(user.ban, now) ? 'banned' : 'active';

const banJson = (ban: Ban | null) =>
  ban && { reason: ban.reason, until: ban.until?.toISOString() ?? null, bannedBy: ban.bannedBy };

/**
 * What moderators and admins do to accounts: roles, bans, search. Every change is audited in the
 * transaction that makes it, and told to every node (pubsub) so it takes effect at once.
 */
export class ModerationService {
  private readonly repo: UserRepository;
  private readonly accounts: AccountService;
  private readonly audit: AuditLog;
  private readonly events: EventSink;
  private readonly clock: Clock;
  private readonly publish: (channel: 'usersBanned' | 'accountsChanged', userIds: string[]) => Promise<void>;

  constructor(deps: {
    repo: UserRepository;
    accounts: AccountService;
    audit: AuditLog;
    events: EventSink;
    clock: Clock;
    /** Tells every node (caches, sockets) about the change. */
    publish: (channel: 'usersBanned' | 'accountsChanged', userIds: string[]) => Promise<void>;
  }) {
    this.repo = deps.repo;
    this.accounts = deps.accounts;
    this.audit = deps.audit;
    this.events = deps.events;
    this.clock = deps.clock;
    this.publish = deps.publish;
  }

  async setRoles(
    actor: AuditActor & { principal: Principal },
    userId: string,
    roles: Role[],
    reason: string,
  ) {
    const wanted = [...new Set(roles)].sort((a, b) => ROLES.indexOf(a) - ROLES.indexOf(b));
    if (wanted.length === 0) throw badInput('An account needs at least one role', { field: 'roles' });
    const user = await withTransaction(this.repo.db, async (tx) => {
      const user = await this.repo.lockUser(tx, userId);
      if (!user) throw notFound('User');
      if (user.status === 'deleted') throw conflict('The account was deleted');
      const adminChanges = user.roles.includes('admin') !== wanted.includes('admin');
      // Belt and braces: the operation is admin-only, but the rule holds whoever calls the service.
      if (adminChanges && actor.principal.role !== 'admin')
        throw forbidden('Only an admin can grant or remove the admin role');
      if (userId === actor.principal.userId && user.roles.includes('admin') && !wanted.includes('admin'))
        throw forbidden('You cannot remove your own admin role');
      await this.repo.setRoles(tx, userId, wanted);
      await this.audit.record(tx, actor, {
        action: 'user.roles_changed',
        targetType: 'user',
        targetId: userId,
        before: { roles: user.roles },
        after: { roles: wanted },
        reason,
      });
      return { ...user, roles: wanted };
    });
    this.accounts.forgetAccounts();
    await this.publish('accountsChanged', [userId]);
    return user;
  }

  async ban(
    actor: AuditActor & { principal: Principal },
    userId: string,
    reason: string,
    until: Date | null,
  ) {
    const now = this.clock.now();
    if (until && until <= now) throw badInput('until must be in the future', { field: 'until' });
    if (userId === actor.principal.userId) throw forbidden('You cannot ban yourself');
    const user = await withTransaction(this.repo.db, async (tx) => {
      const user = await this.repo.lockUser(tx, userId);
      if (!user) throw notFound('User');
      if (user.status === 'deleted') throw conflict('The account was deleted');
      if (user.roles.includes('admin') && actor.principal.role !== 'admin')
        throw forbidden('Moderators cannot ban admins');
      const ban: Ban = { reason, until, bannedAt: now, bannedBy: actor.principal.userId };
      await this.repo.setBan(tx, userId, ban);
      await this.audit.record(tx, actor, {
        action: 'user.banned',
        targetType: 'user',
        targetId: userId,
        before: { ban: isBanActive(user.ban, now) ? banJson(user.ban) : null },
        after: { ban: banJson(ban) },
        reason,
      });
      await this.events.emit(
        tx,
        userBanned.event(
          { userId, reason, until: until?.toISOString() ?? null, bannedBy: actor.principal.userId },
          { userId },
        ),
      );
      return { ...user, ban };
    });
    this.accounts.forgetAccounts();
    await this.publish('usersBanned', [userId]);
    return user;
  }

  async unban(actor: AuditActor & { principal: Principal }, userId: string, reason: string | null) {
    const now = this.clock.now();
    const user = await withTransaction(this.repo.db, async (tx) => {
      const user = await this.repo.lockUser(tx, userId);
      if (!user) throw notFound('User');
      if (!isBanActive(user.ban, now)) throw conflict('The account is not banned');
      await this.repo.setBan(tx, userId, null);
      await this.audit.record(tx, actor, {
        action: 'user.unbanned',
        targetType: 'user',
        targetId: userId,
        before: { ban: banJson(user.ban) },
        after: { ban: null },
        reason,
      });
      await this.events.emit(
        tx,
        userUnbanned.event({ userId, unbannedBy: actor.principal.userId }, { userId }),
      );
      return { ...user, ban: null };
    });
    this.accounts.forgetAccounts();
    await this.publish('accountsChanged', [userId]);
    return user;
  }

  async search(search: Omit<UserSearch, 'now'>): Promise<UserSearchResult[]> {
    return this.repo.searchUsers({ ...search, now: this.clock.now() });
  }

  async getUser(userId: string): Promise<UserRow> {
    const user = await this.repo.findUser(userId);
    if (!user) throw notFound('User');
    return user;
  }

  statusOf(user: UserRow): AccountStatus {
    return accountStatus(user, this.clock.now());
  }
}
