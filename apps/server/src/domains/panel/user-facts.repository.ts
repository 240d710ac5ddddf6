import { sql } from 'kysely';
import type { Tx } from '../../platform/db/transaction.ts';

/** The panel's event-fed facts about users (panel.user_facts): only the consumers write them. */
export class UserFactsRepository {
  async touch(tx: Tx, userId: string, now: Date): Promise<void> {
    await tx
      .insertInto('panel.user_facts')
      .values({ user_id: userId, updated_at: now })
      .onConflict((oc) => oc.column('user_id').doNothing())
      .execute();
  }

  async signedUp(tx: Tx, userId: string, at: Date, now: Date): Promise<void> {
    await tx
      .insertInto('panel.user_facts')
      .values({ user_id: userId, signed_up_at: at, updated_at: now })
      .onConflict((oc) => oc.column('user_id').doUpdateSet({ signed_up_at: at, updated_at: now }))
      .execute();
  }

  /** Adds (or with a negative delta takes back) paid coins bought. */
  async addCoinsBought(tx: Tx, userId: string, delta: bigint, now: Date): Promise<void> {
    await tx
      .insertInto('panel.user_facts')
      .values({ user_id: userId, coins_bought: delta, updated_at: now })
      .onConflict((oc) =>
        oc.column('user_id').doUpdateSet({
          coins_bought: sql<bigint>`panel.user_facts.coins_bought + ${delta.toString()}::bigint`,
          updated_at: now,
        }),
      )
      .execute();
  }

  async addCall(tx: Tx, userId: string, now: Date): Promise<void> {
    await tx
      .insertInto('panel.user_facts')
      .values({ user_id: userId, calls_made: 1, updated_at: now })
      .onConflict((oc) =>
        oc
          .column('user_id')
          .doUpdateSet({ calls_made: sql<number>`panel.user_facts.calls_made + 1`, updated_at: now }),
      )
      .execute();
  }

  /** Keeps the latest activity instant (events may arrive out of order across consumers). */
  async active(tx: Tx, userId: string, at: Date, now: Date): Promise<void> {
    await tx
      .insertInto('panel.user_facts')
      .values({ user_id: userId, last_active_at: at, updated_at: now })
      .onConflict((oc) =>
        oc.column('user_id').doUpdateSet({
          last_active_at: sql<Date>`greatest(panel.user_facts.last_active_at, ${at}::timestamptz)`,
          updated_at: now,
        }),
      )
      .execute();
  }

  /** A deleted account leaves no trace in the panel: facts, tags and memberships go. */
  async erase(tx: Tx, userId: string): Promise<void> {
    await tx.deleteFrom('panel.memberships').where('user_id', '=', userId).execute();
    await tx.deleteFrom('panel.user_tags').where('user_id', '=', userId).execute();
    await tx.deleteFrom('panel.user_facts').where('user_id', '=', userId).execute();
  }
}
