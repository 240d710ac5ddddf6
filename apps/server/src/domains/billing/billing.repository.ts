import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { BillingSessionStatus } from './billing.tables.ts';
import { type CallKind, fromStoredSchedule, type Tariff, toStoredSchedule } from './tariff.ts';

type Executor = Db | Tx;

export type TariffVersion = {
  id: bigint;
  kind: CallKind;
  /** '' for the kind's default tariff. */
  cohort: string;
  version: number;
  tariff: Tariff;
  createdBy: string | null;
  createdAt: Date;
};

export type BillingSession = {
  callId: string;
  kind: CallKind;
  payerId: string;
  earnerId: string;
  tariffVersionId: bigint;
  connectedAt: Date;
  status: BillingSessionStatus;
  nextN: number;
  nextRunAt: Date | null;
  charged: bigint;
  earned: bigint;
  checkpointsCharged: number;
  lowBalanceWarnedAt: Date | null;
  cutOffN: number | null;
  endedAt: Date | null;
  endReason: string | null;
};

export type BillingCharge = {
  callId: string;
  n: number;
  second: number;
  payerCoins: bigint;
  earnerCoins: bigint;
  ledgerTransactionId: string | null;
  dueAt: Date;
  chargedAt: Date;
};

type TariffRow = {
  id: bigint;
  kind: string;
  cohort: string;
  version: number;
  payer: unknown;
  earner: unknown;
  created_by: string | null;
  created_at: Date;
};

const toTariffVersion = (r: TariffRow): TariffVersion => ({
  id: r.id,
  kind: r.kind as CallKind,
  cohort: r.cohort,
  version: r.version,
  tariff: { payer: fromStoredSchedule(r.payer), earner: fromStoredSchedule(r.earner) },
  createdBy: r.created_by,
  createdAt: r.created_at,
});

const TARIFF_COLUMNS = [
  'id',
  'kind',
  'cohort',
  'version',
  'payer',
  'earner',
  'created_by',
  'created_at',
] as const;

const SESSION_COLUMNS = [
  'call_id',
  'kind',
  'payer_id',
  'earner_id',
  'tariff_version_id',
  'connected_at',
  'status',
  'next_n',
  'next_run_at',
  'charged',
  'earned',
  'checkpoints_charged',
  'low_balance_warned_at',
  'cut_off_n',
  'ended_at',
  'end_reason',
] as const;

type SessionRow = {
  call_id: string;
  kind: string;
  payer_id: string;
  earner_id: string;
  tariff_version_id: bigint;
  connected_at: Date;
  status: BillingSessionStatus;
  next_n: number;
  next_run_at: Date | null;
  charged: bigint;
  earned: bigint;
  checkpoints_charged: number;
  low_balance_warned_at: Date | null;
  cut_off_n: number | null;
  ended_at: Date | null;
  end_reason: string | null;
};

const toSession = (r: SessionRow): BillingSession => ({
  callId: r.call_id,
  kind: r.kind as CallKind,
  payerId: r.payer_id,
  earnerId: r.earner_id,
  tariffVersionId: r.tariff_version_id,
  connectedAt: r.connected_at,
  status: r.status,
  nextN: r.next_n,
  nextRunAt: r.next_run_at,
  charged: r.charged,
  earned: r.earned,
  checkpointsCharged: r.checkpoints_charged,
  lowBalanceWarnedAt: r.low_balance_warned_at,
  cutOffN: r.cut_off_n,
  endedAt: r.ended_at,
  endReason: r.end_reason,
});

export type SessionPatch = Partial<{
  status: BillingSessionStatus;
  nextN: number;
  nextRunAt: Date | null;
  charged: bigint;
  earned: bigint;
  checkpointsCharged: number;
  lowBalanceWarnedAt: Date;
  cutOffN: number;
  endedAt: Date;
  endReason: string;
}>;

/** The only code that reads or writes the `billing` schema. */
export class BillingRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  // --- tariffs -------------------------------------------------------------------------------

  /** The newest version of each tariff (default and cohorts) of `kind`, default first. */
  async currentTariffs(kind: CallKind, ex: Executor = this.db): Promise<TariffVersion[]> {
    const rows = await ex
      .selectFrom('billing.tariff_versions')
      .select(TARIFF_COLUMNS)
      .distinctOn('cohort')
      .where('kind', '=', kind)
      .orderBy('cohort', 'asc')
      .orderBy('version', 'desc')
      .execute();
    return rows.map(toTariffVersion);
  }

  /** The newest version of the tariffs of `kind` for these cohorts ('' = default). */
  async currentFor(kind: CallKind, cohorts: readonly string[], ex: Executor = this.db) {
    if (cohorts.length === 0) return [];
    const rows = await ex
      .selectFrom('billing.tariff_versions')
      .select(TARIFF_COLUMNS)
      .distinctOn('cohort')
      .where('kind', '=', kind)
      .where('cohort', 'in', cohorts)
      .orderBy('cohort', 'asc')
      .orderBy('version', 'desc')
      .execute();
    return rows.map(toTariffVersion);
  }

  /** Every version of one tariff, newest first. */
  async versions(kind: CallKind, cohort: string): Promise<TariffVersion[]> {
    const rows = await this.db
      .selectFrom('billing.tariff_versions')
      .select(TARIFF_COLUMNS)
      .where('kind', '=', kind)
      .where('cohort', '=', cohort)
      .orderBy('version', 'desc')
      .execute();
    return rows.map(toTariffVersion);
  }

  async versionById(id: bigint, ex: Executor = this.db): Promise<TariffVersion | undefined> {
    const row = await ex
      .selectFrom('billing.tariff_versions')
      .select(TARIFF_COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toTariffVersion(row);
  }

  async versionByNumber(kind: CallKind, cohort: string, version: number): Promise<TariffVersion | undefined> {
    const row = await this.db
      .selectFrom('billing.tariff_versions')
      .select(TARIFF_COLUMNS)
      .where('kind', '=', kind)
      .where('cohort', '=', cohort)
      .where('version', '=', version)
      .executeTakeFirst();
    return row && toTariffVersion(row);
  }

  /** Adds the next version of (kind, cohort). Concurrent edits of one tariff queue on an advisory lock. */
  async insertVersion(
    tx: Tx,
    input: { kind: CallKind; cohort: string; tariff: Tariff; createdBy: string | null; at: Date },
  ): Promise<{ previous: TariffVersion | undefined; created: TariffVersion }> {
    await sql`select pg_advisory_xact_lock(hashtext(${`billing.tariff:${input.kind}:${input.cohort}`}))`.execute(
      tx,
    );
    const [previous] = await this.currentFor(input.kind, [input.cohort], tx);
    const row = await tx
      .insertInto('billing.tariff_versions')
      .values({
        kind: input.kind,
        cohort: input.cohort,
        version: (previous?.version ?? 0) + 1,
        payer: JSON.stringify(toStoredSchedule(input.tariff.payer)),
        earner: JSON.stringify(toStoredSchedule(input.tariff.earner)),
        created_by: input.createdBy,
        created_at: input.at,
      })
      .returning(TARIFF_COLUMNS)
      .executeTakeFirstOrThrow();
    return { previous, created: toTariffVersion(row) };
  }

  // --- sessions ------------------------------------------------------------------------------

  /** Inserts the session; false when one already exists for the call (nothing changed). */
  async insertSession(
    tx: Tx,
    input: {
      callId: string;
      kind: CallKind;
      payerId: string;
      earnerId: string;
      tariffVersionId: bigint;
      connectedAt: Date;
      at: Date;
    },
  ): Promise<boolean> {
    const result = await tx
      .insertInto('billing.sessions')
      .values({
        call_id: input.callId,
        kind: input.kind,
        payer_id: input.payerId,
        earner_id: input.earnerId,
        tariff_version_id: input.tariffVersionId,
        connected_at: input.connectedAt,
        next_run_at: input.connectedAt,
        created_at: input.at,
      })
      .onConflict((oc) => oc.column('call_id').doNothing())
      .executeTakeFirst();
    return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  async session(callId: string, ex: Executor = this.db): Promise<BillingSession | undefined> {
    const row = await ex
      .selectFrom('billing.sessions')
      .select(SESSION_COLUMNS)
      .where('call_id', '=', callId)
      .executeTakeFirst();
    return row && toSession(row);
  }

  /** Locks the session row: every charge of a call is serialised on it. */
  async lockSession(tx: Tx, callId: string): Promise<BillingSession | undefined> {
    const row = await tx
      .selectFrom('billing.sessions')
      .select(SESSION_COLUMNS)
      .where('call_id', '=', callId)
      .forUpdate()
      .executeTakeFirst();
    return row && toSession(row);
  }

  async updateSession(tx: Tx, callId: string, patch: SessionPatch): Promise<void> {
    const set: Record<string, unknown> = {};
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.nextN !== undefined) set.next_n = patch.nextN;
    if (patch.nextRunAt !== undefined) set.next_run_at = patch.nextRunAt;
    if (patch.charged !== undefined) set.charged = patch.charged;
    if (patch.earned !== undefined) set.earned = patch.earned;
    if (patch.checkpointsCharged !== undefined) set.checkpoints_charged = patch.checkpointsCharged;
    if (patch.lowBalanceWarnedAt !== undefined) set.low_balance_warned_at = patch.lowBalanceWarnedAt;
    if (patch.cutOffN !== undefined) set.cut_off_n = patch.cutOffN;
    if (patch.endedAt !== undefined) set.ended_at = patch.endedAt;
    if (patch.endReason !== undefined) set.end_reason = patch.endReason;
    if (Object.keys(set).length === 0) return;
    await tx.updateTable('billing.sessions').set(set).where('call_id', '=', callId).execute();
  }

  /** Live and ending sessions whose next piece of work was due at or before `dueBy`, most overdue first. */
  async overdueSessions(dueBy: Date, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('billing.sessions')
      .select('call_id')
      .where('status', 'in', ['live', 'ending'])
      .where('next_run_at', '<=', dueBy)
      .orderBy('next_run_at', 'asc')
      .limit(limit)
      .execute();
    return rows.map((r) => r.call_id);
  }

  // --- charges -------------------------------------------------------------------------------

  async insertCharge(tx: Tx, charge: BillingCharge): Promise<void> {
    await tx
      .insertInto('billing.charges')
      .values({
        call_id: charge.callId,
        n: charge.n,
        second: charge.second,
        payer_coins: charge.payerCoins,
        earner_coins: charge.earnerCoins,
        ledger_transaction_id: charge.ledgerTransactionId,
        due_at: charge.dueAt,
        charged_at: charge.chargedAt,
      })
      .execute();
  }

  async charges(callId: string): Promise<BillingCharge[]> {
    const rows = await this.db
      .selectFrom('billing.charges')
      .selectAll()
      .where('call_id', '=', callId)
      .orderBy('n', 'asc')
      .execute();
    return rows.map((r) => ({
      callId: r.call_id,
      n: r.n,
      second: r.second,
      payerCoins: r.payer_coins,
      earnerCoins: r.earner_coins,
      ledgerTransactionId: r.ledger_transaction_id,
      dueAt: r.due_at,
      chargedAt: r.charged_at,
    }));
  }
}
