-- In-app purchases: products and their prices per store, purchases, store notifications,
-- refunds that arrived before their purchase, subscriptions, and the sandbox store's signing chain.
create schema if not exists payment;

create table payment.products (
  id             uuid        primary key default gen_random_uuid(),
  -- The product identifier configured in App Store Connect / Play Console (the same in every store).
  sku            text        not null unique check (sku ~ '^[a-zA-Z0-9._]{1,100}$'),
  type           text        not null check (type in ('coins', 'subscription')),
  title          text        not null,
  -- Paid coins credited per purchase (per period for a subscription), and promotional coins on top.
  coins          bigint      not null check (coins > 0),
  bonus_coins    bigint      not null default 0 check (bonus_coins >= 0),
  -- ISO 8601 period of a subscription (P1W, P1M, P1Y); null for coin packs.
  period         text        check (period is null or period ~ '^P[0-9]+[DWMY]$'),
  active         boolean     not null default true,
  sort_order     integer     not null default 0,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  constraint products_period check ((type = 'subscription') = (period is not null))
);

-- What a product costs in one store and country. country '*' is the store's default.
create table payment.prices (
  product_id     uuid        not null references payment.products (id) on delete cascade,
  store          text        not null check (store in ('apple', 'google', 'sandbox')),
  country        text        not null check (country = '*' or country ~ '^[A-Z]{2}$'),
  currency       text        not null check (currency ~ '^[A-Z]{3}$'),
  -- In the currency's minor unit (cents; yen for JPY).
  amount_minor   bigint      not null check (amount_minor >= 0),
  primary key (product_id, store, country)
);

create table payment.purchases (
  id                       uuid        primary key default gen_random_uuid(),
  -- Cursor: ids are random, this is insertion order.
  seq                      bigint      generated always as identity unique,
  user_id                  uuid        not null,
  product_id               uuid        not null references payment.products (id),
  store                    text        not null check (store in ('apple', 'google', 'sandbox')),
  -- Apple/sandbox transactionId; Google orderId (purchaseToken when the order has none).
  store_transaction_id     text        not null,
  original_transaction_id  text,
  -- Google only: what purchases.products.get/consume take.
  purchase_token           text,
  environment              text,
  state                    text        not null
                           check (state in ('pending', 'verified', 'credited', 'refunded', 'revoked', 'failed')),
  coins                    bigint      not null,
  bonus_coins              bigint      not null,
  price_amount_minor       bigint,
  currency                 text,
  country                  text,
  ledger_transaction_id    uuid,
  refund_ledger_transaction_id uuid,
  refunded_coins           bigint,
  refunded_bonus_coins     bigint,
  failure_reason           text,
  purchased_at             timestamptz not null,
  credited_at              timestamptz,
  refunded_at              timestamptz,
  -- Google: consumed after crediting, so the same product can be bought again.
  consumed_at              timestamptz,
  created_at               timestamptz not null default now(),
  updated_at               timestamptz not null default now(),
  unique (store, store_transaction_id)
);
create index purchases_user on payment.purchases (user_id, seq desc);
create index purchases_state on payment.purchases (state, seq desc);
create unique index purchases_google_token on payment.purchases (purchase_token) where store = 'google';
create index purchases_credited_at on payment.purchases (credited_at) where credited_at is not null;
create index purchases_refunded_at on payment.purchases (refunded_at) where refunded_at is not null;

-- Every store notification received, once: a replay (same id) is recognised and changes nothing.
create table payment.notifications (
  id               bigint      generated always as identity primary key,
  store            text        not null check (store in ('apple', 'google', 'sandbox')),
  -- Apple notificationUUID; Google Pub/Sub messageId.
  notification_id  text        not null,
  type             text        not null,
  subtype          text,
  store_transaction_id text,
  payload          jsonb       not null,
  outcome          text        not null,
  received_at      timestamptz not null,
  unique (store, notification_id)
);

-- A refund or revocation for a transaction not seen yet (out of order). When the purchase arrives it
-- is recorded as refunded without crediting anything: no money is ever created.
create table payment.early_refunds (
  store              text        not null check (store in ('apple', 'google', 'sandbox')),
  -- Apple/sandbox transactionId; Google purchaseToken.
  lookup_key         text        not null,
  kind               text        not null check (kind in ('refunded', 'revoked')),
  received_at        timestamptz not null,
  primary key (store, lookup_key)
);

-- A user's subscription per original transaction, as the store's notifications describe it.
create table payment.subscriptions (
  id                        uuid        primary key default gen_random_uuid(),
  user_id                   uuid        not null,
  product_id                uuid        not null references payment.products (id),
  store                     text        not null check (store in ('apple', 'google', 'sandbox')),
  original_transaction_id   text        not null,
  status                    text        not null
                            check (status in ('active', 'grace_period', 'billing_retry', 'expired', 'revoked')),
  auto_renew                boolean     not null default true,
  expires_at                timestamptz,
  -- When the store signed the information this row reflects: an older, late notification is ignored.
  event_at                  timestamptz not null,
  updated_at                timestamptz not null,
  unique (store, original_transaction_id)
);
create index subscriptions_user on payment.subscriptions (user_id);

-- The sandbox store's certificate chain (root → intermediate → leaf, ES256), made once on first use.
-- Only used when the sandbox store is enabled; the leaf's private key signs sandbox transactions.
create table payment.sandbox_chain (
  id                   smallint    primary key check (id = 1),
  root_der             bytea       not null,
  intermediate_der     bytea       not null,
  leaf_der             bytea       not null,
  leaf_private_key_pem text        not null,
  created_at           timestamptz not null default now()
);
