import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';

export type StoredSetting = {
  key: string;
  value: unknown;
  version: number;
  updatedBy: string | null;
  updatedAt: Date;
};

export type SettingChange = {
  id: bigint;
  key: string;
  version: number;
  before: unknown;
  after: unknown;
  changedBy: string | null;
  reason: string;
  changedAt: Date;
};

/** The only code with SQL for the `settings` schema. */
export class SettingsRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async all(): Promise<StoredSetting[]> {
    const rows = await this.db.selectFrom('settings.values').selectAll().execute();
    return rows.map((r) => ({
      key: r.key,
      value: r.value,
      version: r.version,
      updatedBy: r.updated_by,
      updatedAt: r.updated_at,
    }));
  }

  /** Locks the key so concurrent changes to it get consecutive versions; returns its stored row, if any. */
  async lock(tx: Tx, key: string): Promise<{ value: unknown; version: number } | undefined> {
    // A row lock alone cannot serialize the first change of a key (there is no row yet to lock).
    await sql`select pg_advisory_xact_lock(hashtextextended(${`settings:${key}`}, 0))`.execute(tx);
    return tx
      .selectFrom('settings.values')
      .select(['value', 'version'])
      .where('key', '=', key)
      .forUpdate()
      .executeTakeFirst();
  }

  async write(
    tx: Tx,
    change: {
      key: string;
      before: unknown;
      after: unknown;
      version: number;
      by: string | null;
      reason: string;
      at: Date;
    },
  ): Promise<void> {
    const value = JSON.stringify(change.after);
    await tx
      .insertInto('settings.values')
      .values({
        key: change.key,
        value,
        version: change.version,
        updated_by: change.by,
        updated_at: change.at,
      })
      .onConflict((oc) =>
        oc
          .column('key')
          .doUpdateSet({ value, version: change.version, updated_by: change.by, updated_at: change.at }),
      )
      .execute();
    // A first change of a key records its default as `before`, so the history reads as a diff.
    await tx
      .insertInto('settings.changes')
      .values({
        key: change.key,
        version: change.version,
        before: JSON.stringify(change.before),
        after: value,
        changed_by: change.by,
        reason: change.reason,
        changed_at: change.at,
      })
      .execute();
  }

  /** Newest first; `before` is the id of the last row of the previous page. */
  async history(key: string, limit: number, before: bigint | undefined): Promise<SettingChange[]> {
    let query = this.db.selectFrom('settings.changes').selectAll().where('key', '=', key);
    if (before !== undefined) query = query.where('id', '<', before);
    const rows = await query.orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      id: r.id,
      key: r.key,
      version: r.version,
      before: r.before,
      after: r.after,
      changedBy: r.changed_by,
      reason: r.reason,
      changedAt: r.changed_at,
    }));
  }
}
