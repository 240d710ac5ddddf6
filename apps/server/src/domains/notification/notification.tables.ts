import type { ColumnType, Generated } from 'kysely';
import type { JsonObject } from '../../platform/db/database.types.ts';

export type NotificationStatus =
  | 'pending'
  | 'in_app_sent'
  | 'acknowledged'
  | 'pushing'
  | 'pushed'
  | 'push_failed'
  | 'expired';
export type NotificationPriority = 'high' | 'normal';
export type NotificationChannels = 'in_app' | 'in_app_then_push';
export type PushSendState = 'sending' | 'sent' | 'retry' | 'failed' | 'invalid_token' | 'unknown';
/** The attempt log's steps that mean something went wrong (what admins filter on). */
export const FAILURE_OUTCOMES = [
  'push_failed',
  'invalid_token',
  'push_retry',
  'push_unknown',
  'expired',
] as const;
export type FailureOutcome = (typeof FAILURE_OUTCOMES)[number];
export type AttemptOutcome = 'in_app_sent' | 'offline' | 'acknowledged' | 'push_sent' | FailureOutcome;
export const NOTIFICATION_STATUSES = [
  'pending',
  'in_app_sent',
  'acknowledged',
  'pushing',
  'pushed',
  'push_failed',
  'expired',
] as const satisfies readonly NotificationStatus[];

type CreatedAt = ColumnType<Date, Date | undefined, never>;

export type NotificationTables = {
  'notification.notifications': {
    id: Generated<string>;
    seq: Generated<bigint>;
    user_id: string;
    kind: string;
    title: string;
    body: string;
    data: ColumnType<JsonObject, string, string>;
    priority: NotificationPriority;
    channels: NotificationChannels;
    status: ColumnType<NotificationStatus, NotificationStatus | undefined, NotificationStatus>;
    dedupe_key: string | null;
    broadcast_id: string | null;
    created_at: CreatedAt;
    expires_at: Date;
    delivered_at: Date | null;
    acknowledged_at: Date | null;
    read_at: Date | null;
  };
  'notification.attempts': {
    id: Generated<bigint>;
    notification_id: string;
    channel: 'in_app' | 'push';
    outcome: AttemptOutcome;
    provider: string | null;
    token_id: string | null;
    detail: string | null;
    created_at: CreatedAt;
  };
  'notification.push_sends': {
    notification_id: string;
    token_id: string;
    provider: string;
    state: PushSendState;
    tries: ColumnType<number, number | undefined, number>;
    provider_id: string | null;
    detail: string | null;
    updated_at: Date;
  };
  'notification.outbox': {
    id: Generated<bigint>;
    notification_id: string;
    user_id: string;
    token_kind: string;
    token: string;
    payload: ColumnType<JsonObject, string, string>;
    created_at: CreatedAt;
  };
  'notification.preferences': {
    user_id: string;
    locale: ColumnType<string, string | undefined, string>;
    muted_kinds: ColumnType<string[], string[] | undefined, string[]>;
    updated_at: Date;
  };
  'notification.broadcasts': {
    id: Generated<string>;
    audience: ColumnType<JsonObject, string, string>;
    title: string;
    body: string;
    recipients: number;
    created_by: string | null;
    created_at: CreatedAt;
  };
};
