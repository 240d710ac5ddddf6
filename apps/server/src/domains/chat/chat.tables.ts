import type { ColumnType, Generated } from 'kysely';

export type MessageKind = 'text' | 'system';
export type SystemType = 'gift' | 'call' | 'greeting';

export type ChatTables = {
  'chat.conversations': {
    id: Generated<string>;
    user_low: string;
    user_high: string;
    created_at: ColumnType<Date, Date | undefined, never>;
    last_message_seq: ColumnType<bigint, bigint | undefined, bigint>;
    last_message_at: ColumnType<Date, Date | undefined, Date>;
  };
  'chat.messages': {
    id: Generated<string>;
    seq: Generated<bigint>;
    conversation_id: string;
    sender_id: string;
    recipient_id: string;
    kind: MessageKind;
    body: string;
    system_type: SystemType | null;
    data: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
    client_id: string | null;
    source_key: string | null;
    erased: ColumnType<boolean, boolean | undefined, boolean>;
    created_at: ColumnType<Date, Date | undefined, never>;
  };
  'chat.read_state': {
    conversation_id: string;
    user_id: string;
    last_read_seq: bigint;
    updated_at: Date;
  };
  'chat.auto_added': {
    user_id: string;
    streamers: string[];
    created_at: ColumnType<Date, Date | undefined, never>;
  };
};
