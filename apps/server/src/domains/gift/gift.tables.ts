import type { ColumnType, Generated } from 'kysely';

export type GiftContext = 'chat' | 'call';

export type GiftTables = {
  'gift.catalogue': {
    id: Generated<string>;
    name: string;
    image_media_id: string | null;
    image_url: string | null;
    price: bigint;
    share_bps: number | null;
    share_coins: bigint | null;
    available: ColumnType<boolean, boolean | undefined, boolean>;
    sort_order: ColumnType<number, number | undefined, number>;
    created_at: ColumnType<Date, Date | undefined, never>;
    updated_at: ColumnType<Date, Date | undefined, Date>;
  };
  'gift.sent': {
    id: Generated<string>;
    seq: Generated<bigint>;
    sender_id: string;
    client_id: string;
    gift_id: string;
    streamer_id: string;
    coins: bigint;
    earned: bigint;
    context: GiftContext;
    call_id: string | null;
    created_at: ColumnType<Date, Date | undefined, never>;
  };
};
