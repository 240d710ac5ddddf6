import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { PayoutOwnerKind, PayoutStatus } from './payout.tables.ts';

type Executor = Db | Tx;

export type Payout = {
  id: string;
  seq: bigint;
  ownerKind: PayoutOwnerKind;
  ownerId: string;
  requestedBy: string;
  amount: bigint;
  status: PayoutStatus;
  reason: string | null;
  reference: string | null;
  decidedBy: string | null;
  decidedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
};

const COLUMNS = [
  'id',
  'seq',
  'owner_kind',
  'owner_id',
  'requested_by',
  'amount',
  'status',
  'reason',
  'reference',
  'decided_by',
  'decided_at',
  'created_at',
  'updated_at',
] as const;

const toPayout = (r: {
  id: string;
  seq: bigint;
  owner_kind: PayoutOwnerKind;
  owner_id: string;
  requested_by: string;
  amount: bigint;
  status: PayoutStatus;
  reason: string | null;
  reference: string | null;
  decided_by: string | null;
  decided_at: Date | null;
  created_at: Date;
  updated_at: Date;
}): Payout => ({
  id: r.id,
  seq: r.seq,
  ownerKind: r.owner_kind,
  ownerId: r.owner_id,
  requestedBy: r.requested_by,
  amount: r.amount,
  status: r.status,
  reason: r.reason,
  reference: r.reference,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** The only code that reads or writes `mission_control.payouts`. */
export class PayoutRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async insert(
    tx: Tx,
    input: { ownerKind: PayoutOwnerKind; ownerId: string; requestedBy: string; amount: bigint; at: Date },
  ): Promise<Payout> {
    const row = await tx
      .insertInto('mission_control.payouts')
      .values({
        owner_kind: input.ownerKind,
        owner_id: input.ownerId,
        requested_by: input.requestedBy,
        amount: input.amount,
        created_at: input.at,
        updated_at: input.at,
      })
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    return toPayout(row);
  }

  async find(id: string, ex: Executor = this.db): Promise<Payout | undefined> {
    const row = await ex
      .selectFrom('mission_control.payouts')
      .select(COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toPayout(row);
  }

  async lock(tx: Tx, id: string): Promise<Payout | undefined> {
    const row = await tx
      .selectFrom('mission_control.payouts')
      .select(COLUMNS)
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    return row && toPayout(row);
  }

  async setStatus(
    tx: Tx,
    id: string,
    input: {
      status: PayoutStatus;
      reason?: string | null;
      reference?: string | null;
      decidedBy: string;
      at: Date;
    },
  ): Promise<Payout> {
    const row = await tx
      .updateTable('mission_control.payouts')
      .set({
        status: input.status,
        ...(input.reason !== undefined ? { reason: input.reason } : {}),
        ...(input.reference !== undefined ? { reference: input.reference } : {}),
        decided_by: input.decidedBy,
        decided_at: input.at,
        updated_at: input.at,
      })
      .where('id', '=', id)
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    return toPayout(row);
  }

  /** An owner's requests, newest first; `before` is a seq. */
  async listForOwner(
    ownerKind: PayoutOwnerKind,
    ownerId: string,
    limit: number,
    before: bigint | undefined,
  ): Promise<Payout[]> {
    let query = this.db
      .selectFrom('mission_control.payouts')
      .select(COLUMNS)
      .where('owner_kind', '=', ownerKind)
      .where('owner_id', '=', ownerId);
    if (before !== undefined) query = query.where('seq', '<', before);
    const rows = await query.orderBy('seq', 'desc').limit(limit).execute();
    return rows.map(toPayout);
  }

  /** Requests in a status (every status when null), oldest first; `after` is a seq. */
  async listByStatus(
    status: PayoutStatus | null,
    limit: number,
    after: bigint | undefined,
  ): Promise<Payout[]> {
    let query = this.db.selectFrom('mission_control.payouts').select(COLUMNS);
    if (status) query = query.where('status', '=', status);
    if (after !== undefined) query = query.where('seq', '>', after);
    const rows = await query.orderBy('seq', 'asc').limit(limit).execute();
    return rows.map(toPayout);
  }
}
