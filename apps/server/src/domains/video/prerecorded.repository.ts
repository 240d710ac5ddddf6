import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';

type Executor = Db | Tx;

export type PrerecordedOffer = {
  id: string;
  streamerId: string;
  mediaId: string;
  title: string;
  languages: string[];
  durationSeconds: number;
  createdAt: Date;
  withdrawnAt: Date | null;
};

/** An offer with whether its video is still approved (a rejected or erased one is not playable). */
export type OwnOffer = PrerecordedOffer & { playable: boolean };

export type PrerecordedView = {
  callId: string;
  offerId: string;
  viewerId: string;
  streamerId: string;
  startedAt: Date;
};

const OFFER_COLUMNS = [
  'o.id',
  'o.streamer_id',
  'o.media_id',
  'o.title',
  'o.languages',
  'o.duration_seconds',
  'o.created_at',
  'o.withdrawn_at',
] as const;

type OfferRow = {
  id: string;
  streamer_id: string;
  media_id: string;
  title: string;
  languages: string[];
  duration_seconds: number;
  created_at: Date;
  withdrawn_at: Date | null;
};

const toOffer = (r: OfferRow): PrerecordedOffer => ({
  id: r.id,
  streamerId: r.streamer_id,
  mediaId: r.media_id,
  title: r.title,
  languages: r.languages,
  durationSeconds: r.duration_seconds,
  createdAt: r.created_at,
  withdrawnAt: r.withdrawn_at,
});

/**
 * The only code with SQL for prerecorded offers and viewings. Approval is read from the view the media
 * domain publishes (`media.approved_videos`), never from its tables.
 */
export class PrerecordedRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /** Serialises offer changes of one streamer, so the per-streamer limit holds under concurrency. */
  async lockStreamer(tx: Tx, streamerId: string): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtextextended(${`video.prerecorded:${streamerId}`}, 0))`.execute(
      tx,
    );
  }

  async countActive(tx: Tx, streamerId: string): Promise<number> {
    const row = await tx
      .selectFrom('video.prerecorded_offers')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('streamer_id', '=', streamerId)
      .where('withdrawn_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async activeForMedia(tx: Tx, mediaId: string): Promise<PrerecordedOffer | undefined> {
    const row = await tx
      .selectFrom('video.prerecorded_offers as o')
      .select(OFFER_COLUMNS)
      .where('o.media_id', '=', mediaId)
      .where('o.withdrawn_at', 'is', null)
      .executeTakeFirst();
    return row && toOffer(row);
  }

  async insert(
    tx: Tx,
    offer: Omit<PrerecordedOffer, 'withdrawnAt' | 'createdAt'> & { createdAt: Date },
  ): Promise<PrerecordedOffer> {
    const row = await tx
      .insertInto('video.prerecorded_offers')
      .values({
        id: offer.id,
        streamer_id: offer.streamerId,
        media_id: offer.mediaId,
        title: offer.title,
        languages: offer.languages,
        duration_seconds: offer.durationSeconds,
        created_at: offer.createdAt,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toOffer(row);
  }

  /** Withdraws the streamer's own active offer; undefined when there is none with that id. */
  async withdraw(tx: Tx, streamerId: string, id: string, at: Date): Promise<PrerecordedOffer | undefined> {
    const row = await tx
      .updateTable('video.prerecorded_offers as o')
      .set({ withdrawn_at: at })
      .where('o.id', '=', id)
      .where('o.streamer_id', '=', streamerId)
      .where('o.withdrawn_at', 'is', null)
      .returning(OFFER_COLUMNS)
      .executeTakeFirst();
    return row && toOffer(row);
  }

  /** The streamer's active offers, newest first, each with whether its video is still approved. */
  async listOwn(streamerId: string): Promise<OwnOffer[]> {
    const rows = await this.db
      .selectFrom('video.prerecorded_offers as o')
      .leftJoin('media.approved_videos as m', (join) =>
        join.onRef('m.id', '=', 'o.media_id').onRef('m.owner_id', '=', 'o.streamer_id'),
      )
      .select(OFFER_COLUMNS)
      .select('m.id as approved_id')
      .where('o.streamer_id', '=', streamerId)
      .where('o.withdrawn_at', 'is', null)
      .orderBy('o.created_at', 'desc')
      .orderBy('o.id')
      .execute();
    return rows.map((r) => ({ ...toOffer(r), playable: r.approved_id !== null }));
  }

  async find(id: string, ex: Executor = this.db): Promise<PrerecordedOffer | undefined> {
    const row = await ex
      .selectFrom('video.prerecorded_offers as o')
      .select(OFFER_COLUMNS)
      .where('o.id', '=', id)
      .executeTakeFirst();
    return row && toOffer(row);
  }

  /** An active offer whose video is approved and still the streamer's; undefined otherwise. */
  async findPlayable(id: string, ex: Executor = this.db): Promise<PrerecordedOffer | undefined> {
    const row = await ex
      .selectFrom('video.prerecorded_offers as o')
      .innerJoin('media.approved_videos as m', (join) =>
        join.onRef('m.id', '=', 'o.media_id').onRef('m.owner_id', '=', 'o.streamer_id'),
      )
      .select(OFFER_COLUMNS)
      .where('o.id', '=', id)
      .where('o.withdrawn_at', 'is', null)
      .executeTakeFirst();
    return row && toOffer(row);
  }

  /**
   * Playable offers for a viewer in preference order: the wanted language first (then offers with no
   * languages), then streamers the viewer has watched least recently (never watched first), then at
   * random, so viewers spread over streamers.
   */
  async candidates(viewerId: string, language: string | null, limit: number): Promise<PrerecordedOffer[]> {
    const result = await sql<OfferRow>`
      select o.id, o.streamer_id, o.media_id, o.title, o.languages, o.duration_seconds, o.created_at,
             o.withdrawn_at
      from video.prerecorded_offers o
      join media.approved_videos m on m.id = o.media_id and m.owner_id = o.streamer_id
      left join lateral (
        select max(v.started_at) as last_at
        from video.prerecorded_views v
        where v.viewer_id = ${viewerId} and v.streamer_id = o.streamer_id
      ) w on true
      where o.withdrawn_at is null and o.streamer_id <> ${viewerId}
      order by
        case
          when ${language}::text is null then 0
          when ${language}::text = any(o.languages) then 0
          when cardinality(o.languages) = 0 then 1
          else 2
        end,
        w.last_at asc nulls first,
        random()
      limit ${limit}
    `.execute(this.db);
    return result.rows.map(toOffer);
  }

  async insertView(tx: Tx, view: PrerecordedView): Promise<void> {
    await tx
      .insertInto('video.prerecorded_views')
      .values({
        call_id: view.callId,
        offer_id: view.offerId,
        viewer_id: view.viewerId,
        streamer_id: view.streamerId,
        started_at: view.startedAt,
      })
      .execute();
  }

  async viewOf(callId: string): Promise<PrerecordedView | undefined> {
    const row = await this.db
      .selectFrom('video.prerecorded_views')
      .selectAll()
      .where('call_id', '=', callId)
      .executeTakeFirst();
    return (
      row && {
        callId: row.call_id,
        offerId: row.offer_id,
        viewerId: row.viewer_id,
        streamerId: row.streamer_id,
        startedAt: row.started_at,
      }
    );
  }
}
