import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';

type Executor = Db | Tx;

export type Agency = {
  id: string;
  seq: bigint;
  name: string;
  shareBps: number;
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
};

export type AgencyMembership = {
  id: bigint;
  agencyId: string;
  streamerId: string;
  startedAt: Date;
  endedAt: Date | null;
};

export type AgencyManager = { agencyId: string; userId: string; createdAt: Date };

const AGENCY_COLUMNS = ['id', 'seq', 'name', 'share_bps', 'active', 'created_at', 'updated_at'] as const;

const toAgency = (r: {
  id: string;
  seq: bigint;
  name: string;
  share_bps: number;
  active: boolean;
  created_at: Date;
  updated_at: Date;
}): Agency => ({
  id: r.id,
  seq: r.seq,
  name: r.name,
  shareBps: r.share_bps,
  active: r.active,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const MEMBERSHIP_COLUMNS = ['id', 'agency_id', 'streamer_id', 'started_at', 'ended_at'] as const;

const toMembership = (r: {
  id: bigint;
  agency_id: string;
  streamer_id: string;
  started_at: Date;
  ended_at: Date | null;
}): AgencyMembership => ({
  id: r.id,
  agencyId: r.agency_id,
  streamerId: r.streamer_id,
  startedAt: r.started_at,
  endedAt: r.ended_at,
});

/** The only code that reads or writes the agency tables of `mission_control`. */
export class AgencyRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async insert(
    tx: Tx,
    input: { name: string; shareBps: number; active: boolean; at: Date },
  ): Promise<Agency> {
    const row = await tx
      .insertInto('mission_control.agencies')
      .values({
        name: input.name,
        share_bps: input.shareBps,
        active: input.active,
        created_at: input.at,
        updated_at: input.at,
      })
      .returning(AGENCY_COLUMNS)
      .executeTakeFirstOrThrow();
    return toAgency(row);
  }

  async update(
    tx: Tx,
    id: string,
    input: { name: string; shareBps: number; active: boolean; at: Date },
  ): Promise<Agency> {
    const row = await tx
      .updateTable('mission_control.agencies')
      .set({ name: input.name, share_bps: input.shareBps, active: input.active, updated_at: input.at })
      .where('id', '=', id)
      .returning(AGENCY_COLUMNS)
      .executeTakeFirstOrThrow();
    return toAgency(row);
  }

  async find(id: string, ex: Executor = this.db): Promise<Agency | undefined> {
    const row = await ex
      .selectFrom('mission_control.agencies')
      .select(AGENCY_COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toAgency(row);
  }

  async lock(tx: Tx, id: string): Promise<Agency | undefined> {
    const row = await tx
      .selectFrom('mission_control.agencies')
      .select(AGENCY_COLUMNS)
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    return row && toAgency(row);
  }

  /** Insertion order; `after` is a seq. */
  async list(limit: number, after: bigint | undefined): Promise<Agency[]> {
    let query = this.db.selectFrom('mission_control.agencies').select(AGENCY_COLUMNS);
    if (after !== undefined) query = query.where('seq', '>', after);
    const rows = await query.orderBy('seq', 'asc').limit(limit).execute();
    return rows.map(toAgency);
  }

  /** The streamer's current membership with its agency, if any. */
  async currentMembership(
    ex: Executor,
    streamerId: string,
  ): Promise<(AgencyMembership & { agency: Agency }) | undefined> {
    const row = await ex
      .selectFrom('mission_control.agency_memberships as m')
      .innerJoin('mission_control.agencies as a', 'a.id', 'm.agency_id')
      .select([
        'm.id',
        'm.agency_id',
        'm.streamer_id',
        'm.started_at',
        'm.ended_at',
        'a.seq',
        'a.name',
        'a.share_bps',
        'a.active',
        'a.created_at',
        'a.updated_at',
      ])
      .where('m.streamer_id', '=', streamerId)
      .where('m.ended_at', 'is', null)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      ...toMembership(row),
      agency: toAgency({ ...row, id: row.agency_id }),
    };
  }

  async startMembership(
    tx: Tx,
    input: { agencyId: string; streamerId: string; at: Date; by: string | null },
  ): Promise<AgencyMembership> {
    const row = await tx
      .insertInto('mission_control.agency_memberships')
      .values({
        agency_id: input.agencyId,
        streamer_id: input.streamerId,
        started_at: input.at,
        added_by: input.by,
      })
      .returning(MEMBERSHIP_COLUMNS)
      .executeTakeFirstOrThrow();
    return toMembership(row);
  }

  async endMembership(tx: Tx, id: bigint, at: Date, by: string | null): Promise<void> {
    await tx
      .updateTable('mission_control.agency_memberships')
      .set({ ended_at: at, removed_by: by })
      .where('id', '=', id)
      .execute();
  }

  /** Every membership of the agency that overlaps [from, to) (all of them when no period), oldest first. */
  async memberships(agencyId: string, period?: { from: Date; to: Date }): Promise<AgencyMembership[]> {
    let query = this.db
      .selectFrom('mission_control.agency_memberships')
      .select(MEMBERSHIP_COLUMNS)
      .where('agency_id', '=', agencyId);
    if (period) {
      query = query
        .where('started_at', '<', period.to)
        .where((eb) => eb.or([eb('ended_at', 'is', null), eb('ended_at', '>', period.from)]));
    }
    const rows = await query.orderBy('started_at', 'asc').orderBy('id', 'asc').execute();
    return rows.map(toMembership);
  }

  async currentMembers(agencyId: string): Promise<AgencyMembership[]> {
    const rows = await this.db
      .selectFrom('mission_control.agency_memberships')
      .select(MEMBERSHIP_COLUMNS)
      .where('agency_id', '=', agencyId)
      .where('ended_at', 'is', null)
      .orderBy('started_at', 'asc')
      .orderBy('id', 'asc')
      .execute();
    return rows.map(toMembership);
  }

  async membershipsOfStreamer(streamerId: string): Promise<AgencyMembership[]> {
    const rows = await this.db
      .selectFrom('mission_control.agency_memberships')
      .select(MEMBERSHIP_COLUMNS)
      .where('streamer_id', '=', streamerId)
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.map(toMembership);
  }

  /** Inserts a manager; false when the account already manages an agency (this one or another). */
  async addManager(tx: Tx, input: { agencyId: string; userId: string; by: string | null; at: Date }) {
    const row = await tx
      .insertInto('mission_control.agency_managers')
      .values({ agency_id: input.agencyId, user_id: input.userId, added_by: input.by, created_at: input.at })
      .onConflict((oc) => oc.column('user_id').doNothing())
      .returning('user_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async removeManager(tx: Tx, agencyId: string, userId: string): Promise<boolean> {
    const result = await tx
      .deleteFrom('mission_control.agency_managers')
      .where('agency_id', '=', agencyId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async managers(agencyId: string): Promise<AgencyManager[]> {
    const rows = await this.db
      .selectFrom('mission_control.agency_managers')
      .select(['agency_id', 'user_id', 'created_at'])
      .where('agency_id', '=', agencyId)
      .orderBy('created_at', 'asc')
      .execute();
    return rows.map((r) => ({ agencyId: r.agency_id, userId: r.user_id, createdAt: r.created_at }));
  }

  async managedBy(userId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('mission_control.agency_managers')
      .select('agency_id')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row?.agency_id;
  }
}
