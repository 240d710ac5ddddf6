-- The coin ledger: append-only transactions of postings that sum to zero, and a projection of
-- every account's balance kept in the same database transaction.
CREATE SCHEMA balance;

CREATE TABLE balance.accounts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_kind text NOT NULL CHECK (owner_kind IN ('user', 'agency', 'platform')),
  owner_id uuid,
  kind text NOT NULL CHECK (kind IN (
    'wallet_paid', 'wallet_bonus', 'earnings_pending', 'earnings_available',
    'platform_revenue', 'store_clearing', 'promotions', 'payouts_in_flight', 'payouts_settled', 'adjustments'
  )),
  shards smallint NOT NULL CHECK (shards BETWEEN 1 AND 64),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((owner_kind = 'platform') = (owner_id IS NULL)),
  UNIQUE NULLS NOT DISTINCT (owner_kind, owner_id, kind)
);

-- One row per account, or several for a hot platform account (a posting picks one shard).
CREATE TABLE balance.balances (
  account_id bigint NOT NULL REFERENCES balance.accounts (id),
  shard smallint NOT NULL,
  balance bigint NOT NULL DEFAULT 0,
  version bigint NOT NULL DEFAULT 0,
  updated_at timestamptz,
  PRIMARY KEY (account_id, shard)
);

CREATE TABLE balance.transactions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  idempotency_key text NOT NULL UNIQUE,
  -- sha256 of the command: the same key with a different command is refused
  request_hash text NOT NULL,
  kind text NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}',
  actor_id uuid,
  spent_paid bigint,
  spent_bonus bigint,
  created_at timestamptz NOT NULL
);
CREATE INDEX transactions_kind_created ON balance.transactions (kind, created_at);

CREATE TABLE balance.postings (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id uuid NOT NULL REFERENCES balance.transactions (id),
  account_id bigint NOT NULL REFERENCES balance.accounts (id),
  shard smallint NOT NULL,
  amount bigint NOT NULL CHECK (amount <> 0),
  -- the shard row's balance and version after this posting
  balance_after bigint NOT NULL,
  version bigint NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX postings_account ON balance.postings (account_id, id);
CREATE INDEX postings_transaction ON balance.postings (transaction_id);

-- Append-only: corrections are new transactions.
CREATE FUNCTION balance.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'balance.% is append-only', TG_TABLE_NAME USING ERRCODE = 'P0001';
END $$;
CREATE TRIGGER transactions_append_only BEFORE UPDATE OR DELETE ON balance.transactions
  FOR EACH ROW EXECUTE FUNCTION balance.refuse_change();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON balance.postings
  FOR EACH ROW EXECUTE FUNCTION balance.refuse_change();

-- A second wall behind the code's own check: a transaction whose postings do not sum to zero
-- cannot commit.
CREATE FUNCTION balance.check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE total numeric;
BEGIN
  SELECT sum(amount) INTO total FROM balance.postings WHERE transaction_id = NEW.transaction_id;
  IF total <> 0 THEN
    RAISE EXCEPTION 'ledger transaction % does not balance (%)', NEW.transaction_id, total
      USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON balance.postings
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION balance.check_balanced();

-- Earnings credited to an earnings_pending account wait here until they may be paid out.
CREATE TABLE balance.earning_holds (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES balance.accounts (id),
  transaction_id uuid NOT NULL REFERENCES balance.transactions (id),
  amount bigint NOT NULL CHECK (amount > 0),
  release_at timestamptz NOT NULL,
  released_at timestamptz
);
CREATE INDEX earning_holds_due ON balance.earning_holds (release_at) WHERE released_at IS NULL;

-- The platform's own accounts, each split into 16 shard rows (see balance.accounts.ts).
WITH created AS (
  INSERT INTO balance.accounts (owner_kind, owner_id, kind, shards)
  SELECT 'platform', NULL, kind, 16
  FROM unnest(ARRAY['platform_revenue', 'store_clearing', 'promotions', 'payouts_in_flight',
                    'payouts_settled', 'adjustments']) AS kind
  RETURNING id, shards
)
INSERT INTO balance.balances (account_id, shard)
SELECT created.id, shard FROM created, generate_series(0, created.shards - 1) AS shard;
