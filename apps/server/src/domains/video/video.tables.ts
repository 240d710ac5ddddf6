import type { ColumnType, Generated } from 'kysely';
import type { JsonObject } from '../../platform/db/database.types.ts';
import type { CallState, EndedBy, EndReason } from './call-state.ts';

export type VideoTables = {
  'video.calls': {
    id: string;
    kind: 'direct' | 'roulette' | 'prerecorded';
    caller_id: string;
    callee_id: string;
    payer_id: string;
    earner_id: string;
    state: CallState;
    end_reason: EndReason | null;
    ended_by: EndedBy | null;
    end_note: string | null;
    provider: string | null;
    providers_failed: ColumnType<string[], string[] | undefined, string[]>;
    requested_at: Date;
    ringing_at: Date | null;
    accepted_at: Date | null;
    connecting_at: Date | null;
    connected_at: Date | null;
    ended_at: Date | null;
    deadline_at: Date | null;
    caller_joined_at: Date | null;
    callee_joined_at: Date | null;
    caller_left_at: Date | null;
    callee_left_at: Date | null;
    caller_seen_at: Date | null;
    callee_seen_at: Date | null;
    earner_prior_availability: string | null;
    caller_name: string | null;
    charged: ColumnType<bigint, bigint | undefined, bigint>;
    earned: ColumnType<bigint, bigint | undefined, bigint>;
    version: ColumnType<number, number | undefined, number>;
  };
  'video.live_parties': { user_id: string; call_id: string };
  'video.call_transitions': {
    call_id: string;
    seq: number;
    state: string;
    reason: string | null;
    actor: string;
    detail: ColumnType<JsonObject, string | undefined, never>;
    at: Date;
  };
  'video.webhook_receipts': {
    provider: string;
    event_id: string;
    call_id: string | null;
    type: string;
    received_at: Date;
  };
  'video.provider_failures': {
    id: Generated<bigint>;
    provider: string;
    source: 'health_check' | 'connect_timeout' | 'client_report' | 'token';
    call_id: string | null;
    reason: string;
    at: Date;
  };
  'video.provider_circuits': {
    provider: string;
    open_until: Date | null;
    opened_at: Date | null;
    reason: string | null;
    last_check_at: Date | null;
    last_check_ok: boolean | null;
    last_check_detail: string | null;
  };
};
