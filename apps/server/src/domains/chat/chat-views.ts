import type { Message } from './chat.repository.ts';
import type { SystemType } from './chat.tables.ts';

/** A message as clients and the pubsub see it: JSON-safe (seq as a string, time as ISO). */
export type MessageView = {
  id: string;
  seq: string;
  conversationId: string;
  senderId: string;
  recipientId: string;
  kind: 'text' | 'system';
  body: string;
  systemType: SystemType | null;
  data: Record<string, unknown> | null;
  erased: boolean;
  createdAt: string;
  /** Whether the recipient has read it (their read receipt covers it). */
  read: boolean;
};

export type ChatUpdate =
  | { type: 'message'; conversationId: string; message: MessageView }
  | { type: 'read'; conversationId: string; readerId: string; readUpTo: string };

export type SendResult = MessageView & { replayed: boolean };

/**
 * The account's own chat channel, opened only by its own chatUpdates subscription. Not `user:{id}`:
 * accountEvents subscribers need not receive every message.
 */
export const chatChannel = (userId: string) => `chat:${userId}`;

export const toView = (m: Message, readUpTo: bigint): MessageView => ({
  id: m.id,
  seq: m.seq.toString(),
  conversationId: m.conversationId,
  senderId: m.senderId,
  recipientId: m.recipientId,
  kind: m.kind,
  body: m.body,
  systemType: m.systemType,
  data: m.data,
  erased: m.erased,
  createdAt: m.createdAt.toISOString(),
  read: m.seq <= readUpTo,
});
