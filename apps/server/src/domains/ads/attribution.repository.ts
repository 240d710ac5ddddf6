import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { AttributionSource, AttStatus } from './ads.tables.ts';

type Executor = Db | Tx;

export type AttributionInput = {
  source: AttributionSource;
  mediaSource: string | null;
  campaign: string | null;
  adset: string | null;
  ad: string | null;
  isOrganic: boolean;
  clickTime: Date | null;
  installTime: Date | null;
  appsflyerId: string | null;
  platform: 'ios' | 'android' | null;
  appInstanceId: string | null;
  raw: Record<string, unknown>;
};

export type Attribution = Omit<AttributionInput, 'raw'> & {
  userId: string;
  raw: unknown;
  createdAt: Date;
  updatedAt: Date;
};

export type AttributionReport = Omit<AttributionInput, 'platform' | 'appInstanceId' | 'raw'> & {
  id: bigint;
  userId: string;
  raw: unknown;
  receivedAt: Date;
};

export type Consent = { optedOut: boolean; attStatus: AttStatus | null; updatedAt: Date | null };

export type DailyRow = {
  day: string;
  mediaSource: string;
  campaign: string;
  signUps: number;
  purchases: number;
  revenue: Array<{ currency: string; amountMinor: bigint }>;
};

const toAttribution = (r: {
  user_id: string;
  source: AttributionSource;
  media_source: string | null;
  campaign: string | null;
  adset: string | null;
  ad: string | null;
  is_organic: boolean;
  click_time: Date | null;
  install_time: Date | null;
  appsflyer_id: string | null;
  platform: 'ios' | 'android' | null;
  app_instance_id: string | null;
  raw: unknown;
  created_at: Date;
  updated_at: Date;
}): Attribution => ({
  userId: r.user_id,
  source: r.source,
  mediaSource: r.media_source,
  campaign: r.campaign,
  adset: r.adset,
  ad: r.ad,
  isOrganic: r.is_organic,
  clickTime: r.click_time,
  installTime: r.install_time,
  appsflyerId: r.appsflyer_id,
  platform: r.platform,
  appInstanceId: r.app_instance_id,
  raw: r.raw,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Attribution, consent, conversions and Apphud events: the `ads` tables that are not deliveries. */
export class AttributionRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /**
   * Serialises, per user, recording an attribution with a sender deciding that a delivery must wait
   * for one: whichever comes second sees the other's work (there may be no row yet to lock).
   */
  async lockUser(tx: Tx, userId: string): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtextextended(${`ads.attribution:${userId}`}, 0))`.execute(tx);
  }

  /**
   * Records a report in the history and makes it the current attribution. The latest report wins for
   * source, campaign and organic; what it lacks (ad set, ad, click time, AppsFlyer id, platform, app
   * instance id) is kept from earlier reports, and the install time from the first.
   */
  async record(tx: Tx, userId: string, input: AttributionInput, at: Date): Promise<Attribution> {
    await this.lockUser(tx, userId);
    const raw = JSON.stringify(input.raw);
    const columns = {
      source: input.source,
      media_source: input.mediaSource,
      campaign: input.campaign,
      adset: input.adset,
      ad: input.ad,
      is_organic: input.isOrganic,
      click_time: input.clickTime,
      install_time: input.installTime,
      appsflyer_id: input.appsflyerId,
      raw,
    };
    await tx
      .insertInto('ads.attribution_history')
      .values({ user_id: userId, ...columns, received_at: at })
      .execute();
    const row = await tx
      .insertInto('ads.attributions')
      .values({
        user_id: userId,
        ...columns,
        platform: input.platform,
        app_instance_id: input.appInstanceId,
        created_at: at,
        updated_at: at,
      })
      .onConflict((oc) =>
        oc.column('user_id').doUpdateSet({
          ...columns,
          adset: sql`coalesce(excluded.adset, ads.attributions.adset)`,
          ad: sql`coalesce(excluded.ad, ads.attributions.ad)`,
          click_time: sql`coalesce(excluded.click_time, ads.attributions.click_time)`,
          install_time: sql`coalesce(ads.attributions.install_time, excluded.install_time)`,
          appsflyer_id: sql`coalesce(excluded.appsflyer_id, ads.attributions.appsflyer_id)`,
          platform: sql`coalesce(excluded.platform, ads.attributions.platform)`,
          app_instance_id: sql`coalesce(excluded.app_instance_id, ads.attributions.app_instance_id)`,
          updated_at: at,
        }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return toAttribution(row);
  }

  async current(userId: string, ex: Executor = this.db): Promise<Attribution | undefined> {
    const row = await ex
      .selectFrom('ads.attributions')
      .selectAll()
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row && toAttribution(row);
  }

  async history(userId: string): Promise<AttributionReport[]> {
    const rows = await this.db
      .selectFrom('ads.attribution_history')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('id', 'desc')
      .limit(100)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      userId: r.user_id,
      source: r.source,
      mediaSource: r.media_source,
      campaign: r.campaign,
      adset: r.adset,
      ad: r.ad,
      isOrganic: r.is_organic,
      clickTime: r.click_time,
      installTime: r.install_time,
      appsflyerId: r.appsflyer_id,
      raw: r.raw,
      receivedAt: r.received_at,
    }));
  }

  /** Attributed users, newest first; `after` is an updated_at/user id cursor. */
  async search(
    filter: { mediaSource?: string | undefined; campaign?: string | undefined },
    limit: number,
    after: { at: Date; userId: string } | undefined,
  ): Promise<Attribution[]> {
    let query = this.db.selectFrom('ads.attributions').selectAll();
    if (filter.mediaSource !== undefined) query = query.where('media_source', '=', filter.mediaSource);
    if (filter.campaign !== undefined) query = query.where('campaign', '=', filter.campaign);
    if (after) {
      query = query.where((eb) =>
        eb.or([
          eb('updated_at', '<', after.at),
          eb.and([eb('updated_at', '=', after.at), eb('user_id', '<', after.userId)]),
        ]),
      );
    }
    const rows = await query.orderBy('updated_at', 'desc').orderBy('user_id', 'desc').limit(limit).execute();
    return rows.map(toAttribution);
  }

  async consent(userId: string, ex: Executor = this.db): Promise<Consent> {
    const row = await ex
      .selectFrom('ads.tracking_consent')
      .select(['opted_out', 'att_status', 'updated_at'])
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row
      ? { optedOut: row.opted_out, attStatus: row.att_status, updatedAt: row.updated_at }
      : { optedOut: false, attStatus: null, updatedAt: null };
  }

  async setConsent(
    userId: string,
    input: { optedOut?: boolean | undefined; attStatus?: AttStatus | undefined },
    at: Date,
  ): Promise<Consent> {
    const row = await this.db
      .insertInto('ads.tracking_consent')
      .values({
        user_id: userId,
        opted_out: input.optedOut ?? false,
        att_status: input.attStatus ?? null,
        updated_at: at,
      })
      .onConflict((oc) =>
        oc.column('user_id').doUpdateSet({
          ...(input.optedOut !== undefined ? { opted_out: input.optedOut } : {}),
          ...(input.attStatus !== undefined ? { att_status: input.attStatus } : {}),
          updated_at: at,
        }),
      )
      .returning(['opted_out', 'att_status', 'updated_at'])
      .executeTakeFirstOrThrow();
    return { optedOut: row.opted_out, attStatus: row.att_status, updatedAt: row.updated_at };
  }

  async recordConversion(
    tx: Tx,
    input: {
      eventId: string;
      kind: 'sign_up' | 'purchase';
      userId: string;
      amountMinor: bigint | null;
      currency: string | null;
      occurredAt: Date;
    },
  ): Promise<void> {
    await tx
      .insertInto('ads.conversions')
      .values({
        event_id: input.eventId,
        kind: input.kind,
        user_id: input.userId,
        amount_minor: input.amountMinor,
        currency: input.currency,
        occurred_at: input.occurredAt,
      })
      .onConflict((oc) => oc.column('event_id').doNothing())
      .execute();
  }

  /** Sign-ups and purchases per UTC day, media source and campaign (unattributed users count as organic). */
  async daily(from: Date, to: Date): Promise<DailyRow[]> {
    const rows = await sql<{
      day: string;
      media_source: string;
      campaign: string;
      kind: 'sign_up' | 'purchase';
      currency: string | null;
      n: string;
      amount: string | null;
    }>`
      select to_char(c.occurred_at at time zone 'UTC', 'YYYY-MM-DD') as day,
             coalesce(a.media_source, 'organic') as media_source,
             coalesce(a.campaign, '') as campaign,
             c.kind, c.currency, count(*)::text as n, sum(c.amount_minor)::text as amount
        from ads.conversions c
        left join ads.attributions a on a.user_id = c.user_id
       where c.occurred_at >= ${from} and c.occurred_at < ${to}
       group by 1, 2, 3, 4, 5
       order by 1, 2, 3`.execute(this.db);
    const byKey = new Map<string, DailyRow>();
    for (const r of rows.rows) {
      const key = `${r.day}\u0000${r.media_source}\u0000${r.campaign}`;
      let row = byKey.get(key);
      if (!row) {
        row = {
          day: r.day,
          mediaSource: r.media_source,
          campaign: r.campaign,
          signUps: 0,
          purchases: 0,
          revenue: [],
        };
        byKey.set(key, row);
      }
      if (r.kind === 'sign_up') row.signUps += Number(r.n);
      else {
        row.purchases += Number(r.n);
        if (r.currency && r.amount) row.revenue.push({ currency: r.currency, amountMinor: BigInt(r.amount) });
      }
    }
    return [...byKey.values()];
  }

  /** Records an Apphud webhook once per Apphud event id; false when it was already recorded. */
  async recordApphudEvent(input: {
    apphudEventId: string;
    name: string;
    userId: string | null;
    apphudUserId: string | null;
    productId: string | null;
    environment: string | null;
    applied: boolean;
    payload: unknown;
    at: Date;
  }): Promise<boolean> {
    const row = await this.db
      .insertInto('ads.apphud_events')
      .values({
        apphud_event_id: input.apphudEventId,
        name: input.name,
        user_id: input.userId,
        apphud_user_id: input.apphudUserId,
        product_id: input.productId,
        environment: input.environment,
        applied: input.applied,
        payload: JSON.stringify(input.payload),
        received_at: input.at,
      })
      .onConflict((oc) => oc.column('apphud_event_id').doNothing())
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async apphudEventsOf(userId: string) {
    const rows = await this.db
      .selectFrom('ads.apphud_events')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('id', 'desc')
      .limit(100)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      apphudEventId: r.apphud_event_id,
      name: r.name,
      productId: r.product_id,
      environment: r.environment,
      applied: r.applied,
      receivedAt: r.received_at,
    }));
  }

  /**
   * A deleted account's attribution, consent and raw payloads go; its conversions stay (counts in the
   * daily report, no personal data) and its deliveries' log keeps only the pseudonymous user id.
   */
  async eraseUser(tx: Tx, userId: string): Promise<void> {
    await tx.deleteFrom('ads.attributions').where('user_id', '=', userId).execute();
    await tx.deleteFrom('ads.attribution_history').where('user_id', '=', userId).execute();
    await tx.deleteFrom('ads.tracking_consent').where('user_id', '=', userId).execute();
    await tx.deleteFrom('ads.sink_events').where('user_id', '=', userId).execute();
    await tx
      .updateTable('ads.apphud_events')
      .set({ payload: '{}', apphud_user_id: null })
      .where('user_id', '=', userId)
      .execute();
  }

  /** What the ads domain holds about the account, for its data export. */
  async exportFor(userId: string) {
    const [attribution, history, consent] = await Promise.all([
      this.current(userId),
      this.history(userId),
      this.consent(userId),
    ]);
    // JSON-safe: the history's bigint ids are left out.
    return {
      attribution: attribution ?? null,
      attributionHistory: history.map(({ id: _id, ...report }) => report),
      trackingConsent: consent,
    };
  }
}
