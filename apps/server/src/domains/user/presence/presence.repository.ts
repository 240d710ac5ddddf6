import type { Db } from '../../../platform/db/database.ts';
import type { Tx } from '../../../platform/db/transaction.ts';
import type { Availability } from './presence.tables.ts';

type Executor = Db | Tx;

export type StatusRow = {
  userId: string;
  online: boolean;
  onlineSince: Date | null;
  lastSeenAt: Date | null;
  /** As stored (the streamer's setting), not what reads show for an offline streamer. */
  availability: Availability;
};

const STATUS_COLUMNS = ['user_id', 'online', 'online_since', 'last_seen_at', 'availability'] as const;

function toStatus(row: {
  user_id: string;
  online: boolean;
  online_since: Date | null;
  last_seen_at: Date | null;
  availability: Availability;
}): StatusRow {
  return {
    userId: row.user_id,
    online: row.online,
    onlineSince: row.online_since,
    lastSeenAt: row.last_seen_at,
    availability: row.availability,
  };
}

/** The only code that reads or writes the `presence` schema. */
export class PresenceRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /** Creates the node's row, or refreshes it. */
  async upsertNode(nodeId: string, at: Date): Promise<void> {
    await this.db
      .insertInto('presence.nodes')
      .values({ node_id: nodeId, started_at: at, heartbeat_at: at })
      .onConflict((oc) => oc.column('node_id').doUpdateSet({ heartbeat_at: at }))
      .execute();
  }

  /** Refreshes the heartbeat; false when the row is gone (a sweep took this node for dead). */
  async heartbeat(nodeId: string, at: Date): Promise<boolean> {
    const result = await this.db
      .updateTable('presence.nodes')
      .set({ heartbeat_at: at })
      .where('node_id', '=', nodeId)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Deletes the node's row unless it beat again since `cutoff` (it re-registered meanwhile). */
  async deleteNode(ex: Executor, nodeId: string, cutoff?: Date): Promise<void> {
    let query = ex.deleteFrom('presence.nodes').where('node_id', '=', nodeId);
    if (cutoff) query = query.where('heartbeat_at', '<', cutoff);
    await query.execute();
  }

  async nodeExists(ex: Executor, nodeId: string): Promise<boolean> {
    const row = await ex
      .selectFrom('presence.nodes')
      .select('node_id')
      .where('node_id', '=', nodeId)
      .executeTakeFirst();
    return row !== undefined;
  }

  async staleNodes(before: Date): Promise<string[]> {
    const rows = await this.db
      .selectFrom('presence.nodes')
      .select('node_id')
      .where('heartbeat_at', '<', before)
      .execute();
    return rows.map((r) => r.node_id);
  }

  /** Connections whose node has no row at all (it was swept while they were being recorded). */
  async orphanNodes(): Promise<string[]> {
    const rows = await this.db
      .selectFrom('presence.connections as c')
      .leftJoin('presence.nodes as n', 'n.node_id', 'c.node_id')
      .where('n.node_id', 'is', null)
      .select('c.node_id')
      .distinct()
      .execute();
    return rows.map((r) => r.node_id);
  }

  async usersOnNode(nodeId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('presence.connections')
      .select('user_id')
      .distinct()
      .where('node_id', '=', nodeId)
      .orderBy('user_id')
      .execute();
    return rows.map((r) => r.user_id);
  }

  /** The user's status row, created if missing, locked until the transaction ends. */
  async lockStatus(tx: Tx, userId: string): Promise<StatusRow> {
    await tx
      .insertInto('presence.status')
      .values({ user_id: userId })
      .onConflict((oc) => oc.column('user_id').doNothing())
      .execute();
    const row = await tx
      .selectFrom('presence.status')
      .select(STATUS_COLUMNS)
      .where('user_id', '=', userId)
      .forUpdate()
      .executeTakeFirstOrThrow();
    return toStatus(row);
  }

  async insertConnection(
    tx: Tx,
    connection: { connectionId: string; nodeId: string; userId: string; openedAt: Date },
  ): Promise<void> {
    await tx
      .insertInto('presence.connections')
      .values({
        connection_id: connection.connectionId,
        node_id: connection.nodeId,
        user_id: connection.userId,
        opened_at: connection.openedAt,
      })
      .onConflict((oc) => oc.column('connection_id').doNothing())
      .execute();
  }

  async deleteConnection(tx: Tx, connectionId: string): Promise<void> {
    await tx.deleteFrom('presence.connections').where('connection_id', '=', connectionId).execute();
  }

  async deleteUserConnectionsOnNode(tx: Tx, userId: string, nodeId: string): Promise<void> {
    await tx
      .deleteFrom('presence.connections')
      .where('user_id', '=', userId)
      .where('node_id', '=', nodeId)
      .execute();
  }

  async hasConnections(tx: Tx, userId: string): Promise<boolean> {
    const row = await tx
      .selectFrom('presence.connections')
      .select('connection_id')
      .where('user_id', '=', userId)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  async setOnline(tx: Tx, userId: string, since: Date): Promise<void> {
    await tx
      .updateTable('presence.status')
      .set({ online: true, online_since: since })
      .where('user_id', '=', userId)
      .execute();
  }

  async setOffline(tx: Tx, userId: string, at: Date): Promise<void> {
    await tx
      .updateTable('presence.status')
      .set({ online: false, online_since: null, last_seen_at: at })
      .where('user_id', '=', userId)
      .execute();
  }

  async setAvailability(tx: Tx, userId: string, availability: Availability, at: Date): Promise<void> {
    await tx
      .updateTable('presence.status')
      .set({ availability, availability_updated_at: at })
      .where('user_id', '=', userId)
      .execute();
  }

  async findStatuses(userIds: readonly string[], ex: Executor = this.db): Promise<StatusRow[]> {
    if (userIds.length === 0) return [];
    const rows = await ex
      .selectFrom('presence.status')
      .select(STATUS_COLUMNS)
      .where('user_id', 'in', userIds)
      .execute();
    return rows.map(toStatus);
  }
}
