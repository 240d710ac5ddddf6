import type { ColumnType, Generated } from 'kysely';

type JsonColumn = ColumnType<unknown, string, string>;
type CreatedAt = ColumnType<Date, Date | undefined, never>;

export type AttributionSource = 'client' | 'appsflyer_push';
export type AttStatus = 'authorized' | 'denied' | 'restricted' | 'not_determined';
export type DeliveryStatus = 'pending' | 'waiting' | 'sent' | 'failed' | 'skipped';
export type AttemptOutcome = 'sent' | 'transient' | 'permanent' | 'skipped';

type AttributionColumns = {
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
  raw: JsonColumn;
};

export type AdsTables = {
  'ads.attributions': AttributionColumns & {
    platform: 'ios' | 'android' | null;
    app_instance_id: string | null;
    created_at: CreatedAt;
    updated_at: Date;
  };
  'ads.attribution_history': AttributionColumns & { id: Generated<bigint>; received_at: Date };
  'ads.tracking_consent': {
    user_id: string;
    opted_out: boolean;
    att_status: AttStatus | null;
    updated_at: Date;
  };
  'ads.conversions': {
    event_id: string;
    kind: 'sign_up' | 'purchase';
    user_id: string;
    amount_minor: bigint | null;
    currency: string | null;
    occurred_at: Date;
  };
  'ads.deliveries': {
    id: Generated<bigint>;
    destination: string;
    event_id: string;
    event_type: string;
    user_id: string | null;
    event: JsonColumn;
    status: DeliveryStatus;
    attempts: ColumnType<number, number | undefined, number>;
    next_attempt_at: Date;
    lease_until: Date | null;
    last_error: string | null;
    created_at: Date;
    updated_at: Date;
    sent_at: Date | null;
  };
  'ads.delivery_attempts': {
    id: Generated<bigint>;
    delivery_id: bigint;
    attempt: number;
    outcome: AttemptOutcome;
    http_status: number | null;
    request: string | null;
    response: string | null;
    at: Date;
  };
  'ads.sink_events': {
    id: Generated<bigint>;
    event_id: string;
    name: string;
    user_id: string | null;
    payload: JsonColumn;
    received_at: Date;
  };
  /** Read-only view published for the admin user search (user domain). */
  'ads.admin_attribution': {
    user_id: string;
    media_source: string | null;
    campaign: string | null;
  };
  'ads.apphud_events': {
    id: Generated<bigint>;
    apphud_event_id: string;
    name: string;
    user_id: string | null;
    apphud_user_id: string | null;
    product_id: string | null;
    environment: string | null;
    applied: boolean;
    payload: JsonColumn;
    received_at: Date;
  };
};
