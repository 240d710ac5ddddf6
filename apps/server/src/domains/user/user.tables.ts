import type { ColumnType, Generated } from 'kysely';
import type { Role } from '../../platform/auth/roles.ts';

type CreatedAt = ColumnType<Date, Date | undefined, never>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export type UserTables = {
  'user.users': {
    id: Generated<string>;
    roles: ColumnType<Role[], Role[] | undefined, Role[]>;
    created_at: CreatedAt;
    updated_at: Timestamp;
    status: ColumnType<UserStatus, UserStatus | undefined, UserStatus>;
    deleted_at: Date | null;
    ban_reason: string | null;
    ban_until: Date | null;
    banned_at: Date | null;
    banned_by: string | null;
  };
  'user.push_tokens': {
    id: Generated<string>;
    user_id: string;
    session_id: string | null;
    platform: PushPlatform;
    kind: PushKind;
    token: string;
    created_at: CreatedAt;
    updated_at: Timestamp;
  };
  'user.identities': {
    id: Generated<string>;
    user_id: string;
    issuer: string;
    subject: string;
    created_at: CreatedAt;
    last_seen_at: Timestamp;
  };
  'user.credentials': {
    id: Generated<string>;
    user_id: string;
    kind: 'phone' | 'email';
    identifier: string;
    password_hash: string | null;
    created_at: CreatedAt;
  };
  'user.otp_challenges': {
    id: Generated<string>;
    phone: string;
    ip: string | null;
    code_hash: string;
    attempts: ColumnType<number, number | undefined, number>;
    created_at: CreatedAt;
    expires_at: Date;
    consumed_at: Date | null;
  };
  'user.sms_outbox': {
    id: Generated<bigint>;
    to_phone: string;
    body: string;
    provider: string;
    created_at: CreatedAt;
  };
  'user.sessions': {
    id: Generated<string>;
    user_id: string;
    device_name: string | null;
    user_agent: string | null;
    ip: string | null;
    created_at: CreatedAt;
    last_seen_at: Timestamp;
    revoked_at: Date | null;
    revoke_reason: string | null;
  };
  'user.refresh_tokens': {
    id: Generated<string>;
    session_id: string;
    token_hash: string;
    created_at: CreatedAt;
    expires_at: Date;
    used_at: Date | null;
  };
  'user.login_attempts': {
    id: Generated<bigint>;
    method: LoginMethod;
    identifier: string;
    ip: string | null;
    user_id: string | null;
    success: boolean;
    reason: string | null;
    created_at: CreatedAt;
  };
};

export type LoginMethod = 'phone_code' | 'email_password' | 'refresh' | 'external_token';

/** Stored account status; `banned` is derived from the ban columns (a ban ends by itself at ban_until). */
export type UserStatus = 'active' | 'deleted';

export const PUSH_PLATFORMS = ['ios', 'android', 'web'] as const;
export type PushPlatform = (typeof PUSH_PLATFORMS)[number];
export const PUSH_KINDS = ['fcm', 'onesignal', 'apns', 'apns_voip', 'webpush'] as const;
export type PushKind = (typeof PUSH_KINDS)[number];
