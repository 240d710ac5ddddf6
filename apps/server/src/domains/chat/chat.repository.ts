import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { MessageKind, SystemType } from './chat.tables.ts';

type Executor = Db | Tx;

export type Conversation = { id: string; userLow: string; userHigh: string; lastMessageSeq: bigint };

export type Message = {
  id: string;
  seq: bigint;
  conversationId: string;
  senderId: string;
  recipientId: string;
  kind: MessageKind;
  body: string;
  systemType: SystemType | null;
  data: Record<string, unknown> | null;
  clientId: string | null;
  erased: boolean;
  createdAt: Date;
};

export type ConversationSummary = {
  id: string;
  peerId: string;
  lastMessageSeq: bigint;
  lastMessage: Message | null;
  unreadCount: number;
  /** How far the other side has read (their read receipt), 0 when never. */
  peerLastReadSeq: bigint;
  myLastReadSeq: bigint;
};

export type NewMessage = {
  conversationId: string;
  senderId: string;
  recipientId: string;
  kind: MessageKind;
  body: string;
  systemType: SystemType | null;
  data: Record<string, unknown> | null;
  clientId: string | null;
  sourceKey: string | null;
  createdAt: Date;
};

type MessageRow = {
  id: string;
  seq: bigint;
  conversation_id: string;
  sender_id: string;
  recipient_id: string;
  kind: MessageKind;
  body: string;
  system_type: SystemType | null;
  data: Record<string, unknown> | null;
  client_id: string | null;
  erased: boolean;
  created_at: Date;
};

const MESSAGE_COLUMNS = [
  'id',
  'seq',
  'conversation_id',
  'sender_id',
  'recipient_id',
  'kind',
  'body',
  'system_type',
  'data',
  'client_id',
  'erased',
  'created_at',
] as const;

const toMessage = (r: MessageRow): Message => ({
  id: r.id,
  seq: BigInt(r.seq),
  conversationId: r.conversation_id,
  senderId: r.sender_id,
  recipientId: r.recipient_id,
  kind: r.kind,
  body: r.body,
  systemType: r.system_type,
  data: r.data,
  clientId: r.client_id,
  erased: r.erased,
  createdAt: r.created_at,
});

export const orderPair = (a: string, b: string): [string, string] => (a < b ? [a, b] : [b, a]);

/** The chat domain's SQL: conversations, messages, read state and the onboarding auto-add claim. */
export class ChatRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /** The pair's conversation, created on first use (the unique pair makes concurrent creates one). */
  async conversationFor(tx: Tx, a: string, b: string, now: Date): Promise<Conversation> {
    const [low, high] = orderPair(a, b);
    await tx
      .insertInto('chat.conversations')
      .values({ user_low: low, user_high: high, created_at: now, last_message_at: now })
      .onConflict((oc) => oc.constraint('conversations_pair').doNothing())
      .execute();
    const row = await tx
      .selectFrom('chat.conversations')
      .select(['id', 'user_low', 'user_high', 'last_message_seq'])
      .where('user_low', '=', low)
      .where('user_high', '=', high)
      .executeTakeFirstOrThrow();
    return {
      id: row.id,
      userLow: row.user_low,
      userHigh: row.user_high,
      lastMessageSeq: row.last_message_seq,
    };
  }

  async findConversation(ex: Executor, id: string): Promise<Conversation | undefined> {
    const row = await ex
      .selectFrom('chat.conversations')
      .select(['id', 'user_low', 'user_high', 'last_message_seq'])
      .where('id', '=', id)
      .executeTakeFirst();
    return (
      row && {
        id: row.id,
        userLow: row.user_low,
        userHigh: row.user_high,
        lastMessageSeq: row.last_message_seq,
      }
    );
  }

  /** Serialises one sender's sends, so the rate-limit count cannot be raced past. */
  async lockSender(tx: Tx, senderId: string): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtextextended(${`chat:send:${senderId}`}, 0))`.execute(tx);
  }

  /** Text messages the sender wrote since `since`, and when the oldest of them was written. */
  async recentTexts(tx: Tx, senderId: string, since: Date): Promise<{ count: number; oldest: Date | null }> {
    const row = await tx
      .selectFrom('chat.messages')
      .select((eb) => [eb.fn.countAll<string>().as('count'), eb.fn.min('created_at').as('oldest')])
      .where('sender_id', '=', senderId)
      .where('kind', '=', 'text')
      .where('created_at', '>', since)
      .executeTakeFirstOrThrow();
    return { count: Number(row.count), oldest: (row.oldest as Date | null) ?? null };
  }

  async findByClientId(ex: Executor, senderId: string, clientId: string): Promise<Message | undefined> {
    const row = await ex
      .selectFrom('chat.messages')
      .select(MESSAGE_COLUMNS)
      .where('sender_id', '=', senderId)
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return row && toMessage(row);
  }

  /** Stores a message and moves the conversation's activity; undefined when its source_key was seen. */
  async insertMessage(tx: Tx, m: NewMessage): Promise<Message | undefined> {
    const row = await tx
      .insertInto('chat.messages')
      .values({
        conversation_id: m.conversationId,
        sender_id: m.senderId,
        recipient_id: m.recipientId,
        kind: m.kind,
        body: m.body,
        system_type: m.systemType,
        data: m.data === null ? null : JSON.stringify(m.data),
        client_id: m.clientId,
        source_key: m.sourceKey,
        created_at: m.createdAt,
      })
      .onConflict((oc) => oc.column('source_key').doNothing())
      .returning(MESSAGE_COLUMNS)
      .executeTakeFirst();
    if (!row) return undefined;
    const message = toMessage(row);
    await tx
      .updateTable('chat.conversations')
      .set({
        last_message_seq: sql<bigint>`greatest(last_message_seq, ${message.seq})`,
        last_message_at: m.createdAt,
      })
      .where('id', '=', m.conversationId)
      .execute();
    return message;
  }

  async findMessage(ex: Executor, id: string): Promise<Message | undefined> {
    const row = await ex
      .selectFrom('chat.messages')
      .select(MESSAGE_COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toMessage(row);
  }

  /** Newest first, strictly before the `before` seq when given. */
  async history(conversationId: string, limit: number, before: bigint | undefined): Promise<Message[]> {
    let q = this.db
      .selectFrom('chat.messages')
      .select(MESSAGE_COLUMNS)
      .where('conversation_id', '=', conversationId)
      .orderBy('seq', 'desc')
      .limit(limit);
    if (before !== undefined) q = q.where('seq', '<', before);
    return (await q.execute()).map(toMessage);
  }

  /**
   * The account's conversations, latest activity first, without those of a blocked pair (read
   * from the blocklist domain's published view) and without empty ones.
   */
  async conversations(
    userId: string,
    limit: number,
    before: bigint | undefined,
  ): Promise<ConversationSummary[]> {
    const rows = await sql<{
      id: string;
      peer_id: string;
      last_message_seq: string;
      my_read: string;
      peer_read: string;
      unread: string;
    }>`
      select c.id,
             case when c.user_low = ${userId} then c.user_high else c.user_low end as peer_id,
             c.last_message_seq,
             coalesce(mine.last_read_seq, 0) as my_read,
             coalesce(theirs.last_read_seq, 0) as peer_read,
             (select count(*) from chat.messages m
               where m.conversation_id = c.id and m.recipient_id = ${userId}
                 and m.seq > coalesce(mine.last_read_seq, 0)) as unread
        from chat.conversations c
        left join chat.read_state mine on mine.conversation_id = c.id and mine.user_id = ${userId}
        left join chat.read_state theirs on theirs.conversation_id = c.id and theirs.user_id <> ${userId}
       where (c.user_low = ${userId} or c.user_high = ${userId})
         and c.last_message_seq > 0
         and c.last_message_seq < ${before ?? 2n ** 62n}
         and not exists (
           select 1 from blocklist.active_blocks b
            where (b.blocker_id = c.user_low and b.blocked_id = c.user_high)
               or (b.blocker_id = c.user_high and b.blocked_id = c.user_low))
       order by c.last_message_seq desc
       limit ${limit}`.execute(this.db);
    const lastSeqs = rows.rows.map((r) => BigInt(r.last_message_seq));
    const last =
      lastSeqs.length === 0
        ? []
        : await this.db
            .selectFrom('chat.messages')
            .select(MESSAGE_COLUMNS)
            .where('seq', 'in', lastSeqs)
            .execute();
    const bySeq = new Map(last.map((r) => [BigInt(r.seq), toMessage(r)]));
    return rows.rows.map((r) => ({
      id: r.id,
      peerId: r.peer_id,
      lastMessageSeq: BigInt(r.last_message_seq),
      lastMessage: bySeq.get(BigInt(r.last_message_seq)) ?? null,
      unreadCount: Number(r.unread),
      myLastReadSeq: BigInt(r.my_read),
      peerLastReadSeq: BigInt(r.peer_read),
    }));
  }

  async unreadCount(ex: Executor, userId: string, conversationId: string | null): Promise<number> {
    const row = await sql<{ n: string }>`
      select count(*) as n
        from chat.messages m
        left join chat.read_state r on r.conversation_id = m.conversation_id and r.user_id = ${userId}
       where m.recipient_id = ${userId}
         and m.seq > coalesce(r.last_read_seq, 0)
         and (${conversationId}::uuid is null or m.conversation_id = ${conversationId}::uuid)
         and not exists (
           select 1 from blocklist.active_blocks b
            where (b.blocker_id = m.sender_id and b.blocked_id = m.recipient_id)
               or (b.blocker_id = m.recipient_id and b.blocked_id = m.sender_id))`.execute(ex);
    return Number(row.rows[0]?.n ?? 0);
  }

  /** Moves the reader's read mark forward (never back); returns the mark now stored. */
  async markRead(tx: Tx, conversationId: string, userId: string, seq: bigint, now: Date): Promise<bigint> {
    const row = await tx
      .insertInto('chat.read_state')
      .values({ conversation_id: conversationId, user_id: userId, last_read_seq: seq, updated_at: now })
      .onConflict((oc) =>
        oc.columns(['conversation_id', 'user_id']).doUpdateSet({
          last_read_seq: sql<bigint>`greatest(chat.read_state.last_read_seq, excluded.last_read_seq)`,
          updated_at: now,
        }),
      )
      .returning('last_read_seq')
      .executeTakeFirstOrThrow();
    return BigInt(row.last_read_seq);
  }

  async readMarks(ex: Executor, conversationId: string): Promise<Map<string, bigint>> {
    const rows = await ex
      .selectFrom('chat.read_state')
      .select(['user_id', 'last_read_seq'])
      .where('conversation_id', '=', conversationId)
      .execute();
    return new Map(rows.map((r) => [r.user_id, BigInt(r.last_read_seq)]));
  }

  /** Claims the onboarding auto-add for the account: false when it already ran (a redelivery). */
  async claimAutoAdd(tx: Tx, userId: string, streamers: string[], now: Date): Promise<boolean> {
    const row = await tx
      .insertInto('chat.auto_added')
      .values({ user_id: userId, streamers, created_at: now })
      .onConflict((oc) => oc.column('user_id').doNothing())
      .returning('user_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /** A deleted account's words go; the records that they wrote something (and system records) stay. */
  async eraseTextsOf(tx: Tx, userId: string): Promise<void> {
    await tx
      .updateTable('chat.messages')
      .set({ body: '', erased: true })
      .where('sender_id', '=', userId)
      .where('kind', '=', 'text')
      .execute();
  }

  async messagesOf(userId: string): Promise<Message[]> {
    const rows = await this.db
      .selectFrom('chat.messages')
      .select(MESSAGE_COLUMNS)
      .where((eb) => eb.or([eb('sender_id', '=', userId), eb('recipient_id', '=', userId)]))
      .orderBy('seq', 'desc')
      .limit(100_000)
      .execute();
    return rows.map(toMessage);
  }
}
