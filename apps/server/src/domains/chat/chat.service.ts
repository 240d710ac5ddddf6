import type { Role } from '../../platform/auth/roles.ts';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import { AppError, badInput, conflict, notFound, rateLimited } from '../../platform/errors/app-error.ts';
import type { PubSub } from '../../platform/realtime/pubsub.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import { messageSent } from './chat.events.ts';
import type { ChatRepository, ConversationSummary, Message } from './chat.repository.ts';
import type { SystemType } from './chat.tables.ts';
import { type ChatUpdate, chatChannel, type MessageView, type SendResult, toView } from './chat-views.ts';

/** Whether either account blocked the other (the blocklist domain's answer). */
export type BlockCheck = (a: string, b: string) => Promise<boolean>;

/**
 * Streamers the onboarding auto-add may pick from (active ones, online first, then the most recently
 * seen), and an account's languages (asked only when the rule matches languages).
 */
export type StreamerCandidates = {
  candidates(options: {
    onlineOnly: boolean;
    limit: number;
  }): Promise<Array<{ id: string; online: boolean }>>;
  languagesOf(userId: string): Promise<string[]>;
};

/** `banned` is a ban in force now (the user domain derives it from the ban columns). */
export type ChatUser = { id: string; roles: Role[]; status: 'active' | 'banned' | 'deleted' };

/** The `chat.auto_add` setting's rule (settings.definitions.ts). */
export type AutoAddRule = { online: 'only' | 'first' | 'any'; language: 'match' | 'any' };

const MAX_PAGE = 100;

const isUniqueViolation = (error: unknown, constraint: string) =>
  (error as { code?: unknown })?.code === '23505' &&
  (error as { constraint?: unknown }).constraint === constraint;

const isStreamer = (u: ChatUser) => u.roles.includes('streamer');

/**
 * Chat: one conversation per pair of accounts (a user and a streamer), text messages, system
 * records (gifts, calls, greetings), read marks and live updates on `chat:{userId}` channels.
 * Text sends go through a per-sender advisory lock so the rate limit is exact under concurrency.
 */
export class ChatService {
  private readonly deps: {
    db: Db;
    repo: ChatRepository;
    eventLog: EventLog;
    pubsub: PubSub;
    settings: Pick<SettingsService, 'get'>;
    users: { getUser(id: string): Promise<ChatUser> };
    blocks: BlockCheck;
    streamers: StreamerCandidates;
    clock: Clock;
  };

  constructor(deps: ChatService['deps']) {
    this.deps = deps;
  }

  isBlocked(a: string, b: string): Promise<boolean> {
    return this.deps.blocks(a, b);
  }

  /** Sends a text message. Idempotent by (sender, clientId): a retry returns the first with `replayed`. */
  async send(
    senderId: string,
    input: { recipientId: string; body: string; clientId: string },
  ): Promise<SendResult> {
    const maxLength = await this.deps.settings.get('chat.max_message_length');
    const body = input.body.trim();
    if (body.length === 0 || body.length > maxLength) {
      throw badInput(`body must be 1 to ${maxLength} characters`, { field: 'body' });
    }
    const earlier = await this.deps.repo.findByClientId(this.deps.db, senderId, input.clientId);
    if (earlier) return this.replay(earlier, input.recipientId, body);
    await this.checkPair(senderId, input.recipientId);
    const { messages, windowSeconds } = await this.deps.settings.get('chat.rate_limit');
    let message: Message;
    try {
      message = await withTransaction(this.deps.db, async (tx) => {
        await this.deps.repo.lockSender(tx, senderId);
        const now = this.deps.clock.now();
        const recent = await this.deps.repo.recentTexts(
          tx,
          senderId,
          new Date(now.getTime() - windowSeconds * 1000),
        );
        if (recent.count >= messages) {
          const freesAt = (recent.oldest ?? now).getTime() + windowSeconds * 1000;
          throw rateLimited(
            `At most ${messages} messages in ${windowSeconds} seconds`,
            Math.max(1, Math.ceil((freesAt - now.getTime()) / 1000)),
          );
        }
        const conversation = await this.deps.repo.conversationFor(tx, senderId, input.recipientId, now);
        const stored = await this.insert(tx, {
          conversationId: conversation.id,
          senderId,
          recipientId: input.recipientId,
          kind: 'text',
          body,
          systemType: null,
          data: null,
          clientId: input.clientId,
          sourceKey: null,
          createdAt: now,
        });
        if (!stored) throw new Error('a text message has no source key to collide on');
        return stored;
      });
    } catch (error) {
      if (isUniqueViolation(error, 'messages_client')) {
        const first = await this.deps.repo.findByClientId(this.deps.db, senderId, input.clientId);
        if (first) return this.replay(first, input.recipientId, body);
      }
      throw error;
    }
    const view = toView(message, 0n);
    await this.publishMessage(view);
    return { ...view, replayed: false };
  }

  /**
   * A system record (gift, call, greeting) in the pair's conversation, made by a consumer in its
   * transaction. `sourceKey` (one per source event) makes a redelivered event add nothing.
   */
  async record(
    tx: Tx,
    input: {
      senderId: string;
      recipientId: string;
      systemType: SystemType;
      body: string;
      data: Record<string, unknown>;
      sourceKey: string;
    },
  ): Promise<Message | undefined> {
    if (input.senderId === input.recipientId) return undefined;
    const now = this.deps.clock.now();
    const conversation = await this.deps.repo.conversationFor(tx, input.senderId, input.recipientId, now);
    return this.insert(tx, {
      conversationId: conversation.id,
      senderId: input.senderId,
      recipientId: input.recipientId,
      kind: 'system',
      body: input.body,
      systemType: input.systemType,
      data: input.data,
      clientId: null,
      sourceKey: input.sourceKey,
      createdAt: now,
    });
  }

  /** Marks the conversation read up to (and including) the message; the other side sees the receipt. */
  async markRead(
    userId: string,
    conversationId: string,
    upToMessageId: string,
  ): Promise<{ conversationId: string; readUpTo: string; unreadCount: number }> {
    const conversation = await this.visibleConversation(userId, conversationId);
    const message = await this.deps.repo.findMessage(this.deps.db, upToMessageId);
    if (!message || message.conversationId !== conversation.id) throw notFound('Message');
    const result = await withTransaction(this.deps.db, async (tx) => {
      const mark = await this.deps.repo.markRead(
        tx,
        conversationId,
        userId,
        message.seq,
        this.deps.clock.now(),
      );
      return { mark, unread: await this.deps.repo.unreadCount(tx, userId, conversationId) };
    });
    const update: ChatUpdate = {
      type: 'read',
      conversationId,
      readerId: userId,
      readUpTo: result.mark.toString(),
    };
    const peer = conversation.userLow === userId ? conversation.userHigh : conversation.userLow;
    await Promise.all([
      this.deps.pubsub.publish(chatChannel(userId), update),
      this.deps.pubsub.publish(chatChannel(peer), update),
    ]);
    return { conversationId, readUpTo: result.mark.toString(), unreadCount: result.unread };
  }

  async conversations(
    userId: string,
    limit: number,
    before: bigint | undefined,
  ): Promise<ConversationSummary[]> {
    return this.deps.repo.conversations(userId, clamp(limit), before);
  }

  /** Newest first, strictly older than `before`; hidden (NOT_FOUND) while the pair is blocked. */
  async history(
    userId: string,
    conversationId: string,
    limit: number,
    before: bigint | undefined,
  ): Promise<MessageView[]> {
    await this.visibleConversation(userId, conversationId);
    const [messages, marks] = await Promise.all([
      this.deps.repo.history(conversationId, clamp(limit), before),
      this.deps.repo.readMarks(this.deps.db, conversationId),
    ]);
    return messages.map((m) => toView(m, marks.get(m.recipientId) ?? 0n));
  }

  async unreadTotal(userId: string): Promise<number> {
    return this.deps.repo.unreadCount(this.deps.db, userId, null);
  }

  /** A text message's words for its notification preview; null once erased (deleted account). */
  async messageText(messageId: string): Promise<string | null> {
    const message = await this.deps.repo.findMessage(this.deps.db, messageId);
    return message && message.kind === 'text' && !message.erased ? message.body : null;
  }

  /** Publishes a committed system record to both sides (the message_sent consumer calls this). */
  async publishStored(messageId: string): Promise<void> {
    const message = await this.deps.repo.findMessage(this.deps.db, messageId);
    if (message) await this.publishMessage(toView(message, 0n));
  }

  /**
   * Onboarding auto-add: streamers chosen by the `chat.auto_add` rule greet the new user. The
   * claim row (primary key user_id) and per-pair source keys make it happen once per account.
   */
  async autoAdd(tx: Tx, userId: string): Promise<string[]> {
    const config = await this.deps.settings.get('chat.auto_add');
    if (!config.enabled || config.count === 0) return [];
    // Deleted (or gone) before the event was consumed: nobody to greet.
    const user = await this.deps.users.getUser(userId).catch((error: unknown) => {
      if (error instanceof AppError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    });
    if (!user || isStreamer(user) || user.status !== 'active') return [];
    const chosen = await this.chooseStreamers(userId, config.rule, config.count);
    if (!(await this.deps.repo.claimAutoAdd(tx, userId, chosen, this.deps.clock.now()))) return [];
    for (const streamerId of chosen) {
      await this.record(tx, {
        senderId: streamerId,
        recipientId: userId,
        systemType: 'greeting',
        body: config.greeting,
        data: { autoAdded: true },
        sourceKey: `greeting:${userId}:${streamerId}`,
      });
    }
    return chosen;
  }

  async eraseAccount(tx: Tx, userId: string): Promise<void> {
    await this.deps.repo.eraseTextsOf(tx, userId);
  }

  /** The chat part of the account's data export: every message sent or received, newest first. */
  async exportFor(userId: string): Promise<Record<string, unknown>> {
    const messages = await this.deps.repo.messagesOf(userId);
    return {
      messages: messages.map((m) => ({
        id: m.id,
        conversationId: m.conversationId,
        senderId: m.senderId,
        recipientId: m.recipientId,
        kind: m.kind,
        systemType: m.systemType,
        body: m.body,
        at: m.createdAt.toISOString(),
      })),
    };
  }

  /**
   * Walks the candidates in the rule's order (online first unless `online: 'any'`, which keeps the
   * most recently seen first) and takes the first `count` that pass the rule's filters. Languages are
   * looked up per candidate only while walking, so a match found early costs few reads.
   */
  private async chooseStreamers(userId: string, rule: AutoAddRule, count: number): Promise<string[]> {
    let pool = await this.deps.streamers.candidates({
      onlineOnly: rule.online === 'only',
      limit: Math.max(50, count * 10),
    });
    if (rule.online === 'first') pool = [...pool].sort((a, b) => Number(b.online) - Number(a.online));
    const mine =
      rule.language === 'match' ? new Set(await this.deps.streamers.languagesOf(userId)) : undefined;
    if (mine?.size === 0) return [];
    const chosen: string[] = [];
    for (const candidate of pool) {
      if (chosen.length >= count) break;
      if (candidate.id === userId) continue;
      if (mine && !(await this.deps.streamers.languagesOf(candidate.id)).some((l) => mine.has(l))) continue;
      if (await this.deps.blocks(userId, candidate.id)) continue;
      chosen.push(candidate.id);
    }
    return chosen;
  }

  private async insert(
    tx: Tx,
    m: Parameters<ChatRepository['insertMessage']>[1],
  ): Promise<Message | undefined> {
    const stored = await this.deps.repo.insertMessage(tx, m);
    if (!stored) return undefined;
    await this.deps.eventLog.emit(
      tx,
      messageSent.event(
        {
          messageId: stored.id,
          conversationId: stored.conversationId,
          senderId: stored.senderId,
          recipientId: stored.recipientId,
          kind: stored.kind,
        },
        { userId: stored.recipientId },
      ),
    );
    return stored;
  }

  private async publishMessage(view: MessageView): Promise<void> {
    const update: ChatUpdate = { type: 'message', conversationId: view.conversationId, message: view };
    await Promise.all([
      this.deps.pubsub.publish(chatChannel(view.recipientId), update),
      this.deps.pubsub.publish(chatChannel(view.senderId), update),
    ]);
  }

  /** The caller's conversation; NOT_FOUND for a stranger's, and while the pair is blocked (hidden). */
  private async visibleConversation(userId: string, conversationId: string) {
    const conversation = await this.deps.repo.findConversation(this.deps.db, conversationId);
    if (!conversation || (conversation.userLow !== userId && conversation.userHigh !== userId)) {
      throw notFound('Conversation');
    }
    if (await this.deps.blocks(conversation.userLow, conversation.userHigh)) throw notFound('Conversation');
    return conversation;
  }

  /** Only a user and a streamer talk (one side streamer, the other not), both active, not blocked. */
  private async checkPair(senderId: string, recipientId: string): Promise<void> {
    if (senderId === recipientId) throw badInput('You cannot message yourself', { field: 'recipientId' });
    const [sender, recipient] = await Promise.all([
      this.deps.users.getUser(senderId),
      this.deps.users.getUser(recipientId).catch((error: unknown) => {
        if (error instanceof AppError && error.code === 'NOT_FOUND') throw notFound('Recipient');
        throw error;
      }),
    ]);
    if (recipient.status !== 'active') throw notFound('Recipient');
    if (isStreamer(sender) === isStreamer(recipient)) {
      throw new AppError('FORBIDDEN', 'Chat is between a user and a streamer', { reason: 'NOT_A_PAIR' });
    }
    if (await this.deps.blocks(senderId, recipientId)) {
      throw new AppError('FORBIDDEN', 'You cannot message this account', { reason: 'BLOCKED' });
    }
  }

  private replay(first: Message, recipientId: string, body: string): SendResult {
    if (first.recipientId !== recipientId || first.body !== body) {
      throw conflict('This clientId was already used for another message');
    }
    return { ...toView(first, 0n), replayed: true };
  }
}

const clamp = (limit: number) => Math.min(Math.max(1, Math.trunc(limit)), MAX_PAGE);
