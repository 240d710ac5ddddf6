import type { ColumnType, Generated } from 'kysely';
import type { JsonObject } from '../../platform/db/database.types.ts';

export type Store = 'apple' | 'google' | 'sandbox';
export type ProductType = 'coins' | 'subscription';
export type PurchaseState = 'pending' | 'verified' | 'credited' | 'refunded' | 'revoked' | 'failed';
export type SubscriptionStatus = 'active' | 'grace_period' | 'billing_retry' | 'expired' | 'revoked';

type Created = ColumnType<Date, Date | undefined, never>;

export type PaymentTables = {
  'payment.products': {
    id: Generated<string>;
    sku: string;
    type: ProductType;
    title: string;
    coins: bigint;
    bonus_coins: ColumnType<bigint, bigint | undefined, bigint>;
    period: string | null;
    active: ColumnType<boolean, boolean | undefined, boolean>;
    sort_order: ColumnType<number, number | undefined, number>;
    created_at: Created;
    updated_at: ColumnType<Date, Date | undefined, Date>;
  };
  'payment.prices': {
    product_id: string;
    store: Store;
    country: string;
    currency: string;
    amount_minor: bigint;
  };
  'payment.purchases': {
    id: Generated<string>;
    seq: Generated<bigint>;
    user_id: string;
    product_id: string;
    store: Store;
    store_transaction_id: string;
    original_transaction_id: string | null;
    purchase_token: string | null;
    environment: string | null;
    state: PurchaseState;
    coins: bigint;
    bonus_coins: bigint;
    price_amount_minor: bigint | null;
    currency: string | null;
    country: string | null;
    ledger_transaction_id: string | null;
    refund_ledger_transaction_id: string | null;
    refunded_coins: bigint | null;
    refunded_bonus_coins: bigint | null;
    failure_reason: string | null;
    purchased_at: Date;
    credited_at: Date | null;
    refunded_at: Date | null;
    consumed_at: Date | null;
    created_at: Created;
    updated_at: ColumnType<Date, Date | undefined, Date>;
  };
  'payment.notifications': {
    id: Generated<bigint>;
    store: Store;
    notification_id: string;
    type: string;
    subtype: string | null;
    store_transaction_id: string | null;
    payload: ColumnType<JsonObject, string, string>;
    outcome: string;
    received_at: Date;
  };
  'payment.early_refunds': {
    store: Store;
    lookup_key: string;
    kind: 'refunded' | 'revoked';
    received_at: Date;
  };
  'payment.subscriptions': {
    id: Generated<string>;
    user_id: string;
    product_id: string;
    store: Store;
    original_transaction_id: string;
    status: SubscriptionStatus;
    auto_renew: ColumnType<boolean, boolean | undefined, boolean>;
    expires_at: Date | null;
    event_at: Date;
    updated_at: Date;
  };
  'payment.sandbox_chain': {
    id: number;
    root_der: Buffer;
    intermediate_der: Buffer;
    leaf_der: Buffer;
    leaf_private_key_pem: string;
    created_at: Created;
  };
};
