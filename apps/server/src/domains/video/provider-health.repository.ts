import type { Db } from '../../platform/db/database.ts';
import type { VideoTables } from './video.tables.ts';

export type FailureSource = VideoTables['video.provider_failures']['source'];

export type CircuitRow = {
  provider: string;
  openUntil: Date | null;
  openedAt: Date | null;
  reason: string | null;
  lastCheckAt: Date | null;
  lastCheckOk: boolean | null;
  lastCheckDetail: string | null;
};

/** Provider failures and circuits, shared by every server process through Postgres. */
export class ProviderHealthRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async circuits(): Promise<CircuitRow[]> {
    const rows = await this.db.selectFrom('video.provider_circuits').selectAll().execute();
    return rows.map((r) => ({
      provider: r.provider,
      openUntil: r.open_until,
      openedAt: r.opened_at,
      reason: r.reason,
      lastCheckAt: r.last_check_at,
      lastCheckOk: r.last_check_ok,
      lastCheckDetail: r.last_check_detail,
    }));
  }

  /**
   * Records a failure and opens the circuit when `threshold` failures fell within `windowSeconds`
   * (one statement each, so concurrent reporters on several nodes agree). Returns whether it is open.
   */
  async recordFailure(
    failure: { provider: string; source: FailureSource; callId: string | null; reason: string; at: Date },
    rule: { threshold: number; windowSeconds: number },
  ): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('video.provider_failures')
        .values({
          provider: failure.provider,
          source: failure.source,
          call_id: failure.callId,
          reason: failure.reason.slice(0, 500),
          at: failure.at,
        })
        .execute();
      const since = new Date(failure.at.getTime() - rule.windowSeconds * 1000);
      const recent = await tx
        .selectFrom('video.provider_failures')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('provider', '=', failure.provider)
        .where('at', '>', since)
        .executeTakeFirstOrThrow();
      if (Number(recent.n) < rule.threshold) return false;
      const openUntil = new Date(failure.at.getTime() + rule.windowSeconds * 1000);
      await tx
        .insertInto('video.provider_circuits')
        .values({
          provider: failure.provider,
          open_until: openUntil,
          opened_at: failure.at,
          reason: failure.reason,
        })
        .onConflict((oc) =>
          oc
            .column('provider')
            .doUpdateSet({ open_until: openUntil, opened_at: failure.at, reason: failure.reason }),
        )
        .execute();
      return true;
    });
  }

  async recordCheck(provider: string, at: Date, ok: boolean, detail: string | null): Promise<void> {
    await this.db
      .insertInto('video.provider_circuits')
      .values({ provider, last_check_at: at, last_check_ok: ok, last_check_detail: detail })
      .onConflict((oc) =>
        oc
          .column('provider')
          .doUpdateSet({ last_check_at: at, last_check_ok: ok, last_check_detail: detail }),
      )
      .execute();
  }

  /** An operator closing a circuit by hand (the vendor recovered). */
  async close(provider: string): Promise<void> {
    await this.db
      .updateTable('video.provider_circuits')
      .set({ open_until: null })
      .where('provider', '=', provider)
      .execute();
    await this.db.deleteFrom('video.provider_failures').where('provider', '=', provider).execute();
  }

  async recentFailures(provider: string, since: Date): Promise<number> {
    const row = await this.db
      .selectFrom('video.provider_failures')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('provider', '=', provider)
      .where('at', '>', since)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async pruneFailures(before: Date): Promise<void> {
    await this.db.deleteFrom('video.provider_failures').where('at', '<', before).execute();
  }
}
