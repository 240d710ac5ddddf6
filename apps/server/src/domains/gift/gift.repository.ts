import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { GiftContext } from './gift.tables.ts';

type Executor = Db | Tx;

export type Gift = {
  id: string;
  name: string;
  imageMediaId: string | null;
  imageUrl: string | null;
  price: bigint;
  shareBps: number | null;
  shareCoins: bigint | null;
  available: boolean;
  sortOrder: number;
  createdAt: Date;
  updatedAt: Date;
};

export type GiftInput = {
  name: string;
  imageMediaId: string | null;
  imageUrl: string | null;
  price: bigint;
  shareBps: number | null;
  shareCoins: bigint | null;
  available: boolean;
  sortOrder: number;
};

export type SentGift = {
  id: string;
  seq: bigint;
  senderId: string;
  clientId: string;
  giftId: string;
  streamerId: string;
  coins: bigint;
  earned: bigint;
  context: GiftContext;
  callId: string | null;
  createdAt: Date;
};

const GIFT_COLUMNS = [
  'id',
  'name',
  'image_media_id',
  'image_url',
  'price',
  'share_bps',
  'share_coins',
  'available',
  'sort_order',
  'created_at',
  'updated_at',
] as const;

const toGift = (r: {
  id: string;
  name: string;
  image_media_id: string | null;
  image_url: string | null;
  price: bigint;
  share_bps: number | null;
  share_coins: bigint | null;
  available: boolean;
  sort_order: number;
  created_at: Date;
  updated_at: Date;
}): Gift => ({
  id: r.id,
  name: r.name,
  imageMediaId: r.image_media_id,
  imageUrl: r.image_url,
  price: r.price,
  shareBps: r.share_bps,
  shareCoins: r.share_coins,
  available: r.available,
  sortOrder: r.sort_order,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const SENT_COLUMNS = [
  'id',
  'seq',
  'sender_id',
  'client_id',
  'gift_id',
  'streamer_id',
  'coins',
  'earned',
  'context',
  'call_id',
  'created_at',
] as const;

const toSent = (r: {
  id: string;
  seq: bigint;
  sender_id: string;
  client_id: string;
  gift_id: string;
  streamer_id: string;
  coins: bigint;
  earned: bigint;
  context: GiftContext;
  call_id: string | null;
  created_at: Date;
}): SentGift => ({
  id: r.id,
  seq: r.seq,
  senderId: r.sender_id,
  clientId: r.client_id,
  giftId: r.gift_id,
  streamerId: r.streamer_id,
  coins: r.coins,
  earned: r.earned,
  context: r.context,
  callId: r.call_id,
  createdAt: r.created_at,
});

const giftValues = (input: GiftInput) => ({
  name: input.name,
  image_media_id: input.imageMediaId,
  image_url: input.imageUrl,
  price: input.price,
  share_bps: input.shareBps,
  share_coins: input.shareCoins,
  available: input.available,
  sort_order: input.sortOrder,
});

/** The only code that reads or writes the `gift` schema. */
export class GiftRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async insert(tx: Tx, input: GiftInput, at: Date): Promise<Gift> {
    const row = await tx
      .insertInto('gift.catalogue')
      .values({ ...giftValues(input), created_at: at, updated_at: at })
      .returning(GIFT_COLUMNS)
      .executeTakeFirstOrThrow();
    return toGift(row);
  }

  async update(tx: Tx, id: string, input: GiftInput, at: Date): Promise<Gift> {
    const row = await tx
      .updateTable('gift.catalogue')
      .set({ ...giftValues(input), updated_at: at })
      .where('id', '=', id)
      .returning(GIFT_COLUMNS)
      .executeTakeFirstOrThrow();
    return toGift(row);
  }

  async find(id: string, ex: Executor = this.db): Promise<Gift | undefined> {
    const row = await ex
      .selectFrom('gift.catalogue')
      .select(GIFT_COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toGift(row);
  }

  async lock(tx: Tx, id: string): Promise<Gift | undefined> {
    const row = await tx
      .selectFrom('gift.catalogue')
      .select(GIFT_COLUMNS)
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    return row && toGift(row);
  }

  /** The catalogue in display order; only available gifts unless `all`. */
  async list(all: boolean): Promise<Gift[]> {
    let query = this.db.selectFrom('gift.catalogue').select(GIFT_COLUMNS);
    if (!all) query = query.where('available', '=', true);
    const rows = await query
      .orderBy('sort_order', 'asc')
      .orderBy('name', 'asc')
      .orderBy('id', 'asc')
      .execute();
    return rows.map(toGift);
  }

  /**
   * Records a gift unless the sender already used this client id: then nothing is inserted (a
   * concurrent insert with the same key is waited for) and undefined is returned.
   */
  async insertSent(
    tx: Tx,
    input: Omit<SentGift, 'id' | 'seq' | 'createdAt'>,
    at: Date,
  ): Promise<SentGift | undefined> {
    const row = await tx
      .insertInto('gift.sent')
      .values({
        sender_id: input.senderId,
        client_id: input.clientId,
        gift_id: input.giftId,
        streamer_id: input.streamerId,
        coins: input.coins,
        earned: input.earned,
        context: input.context,
        call_id: input.callId,
        created_at: at,
      })
      .onConflict((oc) => oc.columns(['sender_id', 'client_id']).doNothing())
      .returning(SENT_COLUMNS)
      .executeTakeFirst();
    return row && toSent(row);
  }

  async findSent(ex: Executor, senderId: string, clientId: string): Promise<SentGift | undefined> {
    const row = await ex
      .selectFrom('gift.sent')
      .select(SENT_COLUMNS)
      .where('sender_id', '=', senderId)
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return row && toSent(row);
  }

  /** Gifts a streamer received (or a sender sent), newest first; `before` is a seq. */
  async listSent(
    filter: { streamerId?: string; senderId?: string },
    limit: number,
    before: bigint | undefined,
  ): Promise<SentGift[]> {
    let query = this.db.selectFrom('gift.sent').select(SENT_COLUMNS);
    if (filter.streamerId) query = query.where('streamer_id', '=', filter.streamerId);
    if (filter.senderId) query = query.where('sender_id', '=', filter.senderId);
    if (before !== undefined) query = query.where('seq', '<', before);
    const rows = await query.orderBy('seq', 'desc').limit(limit).execute();
    return rows.map(toSent);
  }
}
