import type { Principal } from '../../platform/auth/principal.ts';
import type { Db } from '../../platform/db/database.ts';
import type { JsonObject } from '../../platform/db/database.types.ts';
import type { Tx } from '../../platform/db/transaction.ts';

/** Who acted: the request's principal (or `system` for jobs), and the request id to follow it in the logs. */
export type AuditActor = { principal: Principal | null; requestId: string | null };

export type AuditEntry = {
  /** dotted verb, e.g. `user.roles_changed`, `user.banned`, `media.approved` */
  action: string;
  targetType: string;
  targetId: string;
  before?: JsonObject | null;
  after?: JsonObject | null;
  reason?: string | null;
};

export type AuditRecord = AuditEntry & {
  id: bigint;
  actorId: string | null;
  actorRole: string | null;
  requestId: string | null;
  createdAt: Date;
};

export type AuditFilter = {
  actorId?: string | null;
  action?: string | null;
  targetType?: string | null;
  targetId?: string | null;
  from?: Date | null;
  to?: Date | null;
};

/**
 * The mission_control audit log. `record` runs in the caller's transaction, so an action and its
 * audit entry commit together or not at all.
 */
export class AuditLog {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async record(tx: Tx, actor: AuditActor, entry: AuditEntry): Promise<void> {
    await tx
      .insertInto('mission_control.audit_log')
      .values({
        actor_id: actor.principal?.userId ?? null,
        actor_role: actor.principal?.role ?? null,
        action: entry.action,
        target_type: entry.targetType,
        target_id: entry.targetId,
        before: entry.before === undefined || entry.before === null ? null : JSON.stringify(entry.before),
        after: entry.after === undefined || entry.after === null ? null : JSON.stringify(entry.after),
        reason: entry.reason ?? null,
        request_id: actor.requestId,
      })
      .execute();
  }

  /** Newest first; `before` is the id of the last row of the previous page. */
  async list(filter: AuditFilter, limit: number, before: bigint | undefined): Promise<AuditRecord[]> {
    let query = this.db.selectFrom('mission_control.audit_log').selectAll();
    if (before !== undefined) query = query.where('id', '<', before);
    if (filter.actorId) query = query.where('actor_id', '=', filter.actorId);
    if (filter.action) query = query.where('action', '=', filter.action);
    if (filter.targetType) query = query.where('target_type', '=', filter.targetType);
    if (filter.targetId) query = query.where('target_id', '=', filter.targetId);
    if (filter.from) query = query.where('created_at', '>=', filter.from);
    if (filter.to) query = query.where('created_at', '<', filter.to);
    const rows = await query.orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      id: r.id,
      actorId: r.actor_id,
      actorRole: r.actor_role,
      action: r.action,
      targetType: r.target_type,
      targetId: r.target_id,
      before: r.before,
      after: r.after,
      reason: r.reason,
      requestId: r.request_id,
      createdAt: r.created_at,
    }));
  }
}
