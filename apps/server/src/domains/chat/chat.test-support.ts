import { randomUUID } from 'node:crypto';
import type { TestApp } from '../../../test/app.ts';
import { type GraphQLResponse, gql, wsClient } from '../../../test/graphql-client.ts';
import { adminActor } from '../mission_control/money-report.testing.ts';
import type { SettingKey, SettingValue } from '../settings/settings.definitions.ts';
import { waitFor } from '../timetable/testing.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { chatChannel } from './chat-views.ts';

const MESSAGE = 'id cursor conversationId senderId recipientId kind systemType body data read erased';
const SEND = `mutation($recipientId: ID!, $body: String!, $clientId: String!) {
  sendChatMessage(recipientId: $recipientId, body: $body, clientId: $clientId) { replayed message { ${MESSAGE} } }
}`;
const CONVERSATIONS = `query($first: Int, $after: String) {
  myConversations(first: $first, after: $after) {
    items { id peerId cursor unreadCount peerReadUpTo lastMessage { ${MESSAGE} } } nextCursor
  }
}`;
const HISTORY = `query($conversationId: ID!, $first: Int, $before: String) {
  chatMessages(conversationId: $conversationId, first: $first, before: $before) { items { ${MESSAGE} } nextCursor }
}`;
const MARK_READ = `mutation($conversationId: ID!, $upToMessageId: ID!) {
  markChatRead(conversationId: $conversationId, upToMessageId: $upToMessageId) { conversationId readUpTo unreadCount }
}`;
const UPDATES = `subscription { chatUpdates { type conversationId readerId readUpTo message { ${MESSAGE} } } }`;

/** A ChatMessage as a client receives it (enums by their GraphQL names). */
export type Msg = {
  id: string;
  cursor: string;
  conversationId: string;
  senderId: string;
  recipientId: string;
  kind: 'TEXT' | 'SYSTEM';
  systemType: 'GIFT' | 'CALL' | 'GREETING' | null;
  body: string;
  data: Record<string, unknown> | null;
  read: boolean;
  erased: boolean;
};
export type Conv = {
  id: string;
  peerId: string;
  cursor: string;
  unreadCount: number;
  peerReadUpTo: string;
  lastMessage: Msg | null;
};
/** A chatUpdates result as it arrives over the socket: `type` is the enum's name, not the server's value. */
export type WireUpdate = {
  type: 'MESSAGE' | 'READ';
  conversationId: string;
  readerId: string | null;
  readUpTo: string | null;
  message: Msg | null;
};
export type ReadResult = { conversationId: string; readUpTo: string; unreadCount: number };

/** The chat API as a client calls it, over HTTP and WebSocket, for the tests of one app. */
export function chatClient(app: TestApp) {
  const sockets: Array<ReturnType<typeof wsClient>> = [];

  const send = (from: AuthTokens, recipientId: string, body: string, clientId: string = randomUUID()) =>
    gql<{ sendChatMessage: { replayed: boolean; message: Msg } }>(
      app.url,
      SEND,
      { recipientId, body, clientId },
      { token: from.accessToken },
    );

  const data = <T>(response: GraphQLResponse<T>): T => {
    if (!response.data) throw new Error(JSON.stringify(response.errors));
    return response.data;
  };

  return {
    send,
    /** Sends and returns the stored message; throws on an error. */
    sent: async (from: AuthTokens, recipientId: string, body: string, clientId?: string) =>
      data(await send(from, recipientId, body, clientId)).sendChatMessage.message,
    conversations: async (who: AuthTokens, first = 20, after?: string) =>
      data(
        await gql<{ myConversations: { items: Conv[]; nextCursor: string | null } }>(
          app.url,
          CONVERSATIONS,
          { first, after },
          { token: who.accessToken },
        ),
      ).myConversations,
    history: (who: AuthTokens, conversationId: string, first = 50, before?: string) =>
      gql<{ chatMessages: { items: Msg[]; nextCursor: string | null } }>(
        app.url,
        HISTORY,
        { conversationId, first, before },
        { token: who.accessToken },
      ),
    /** The whole history, newest first (throws when it is not readable). */
    allMessages: async (who: AuthTokens, conversationId: string) =>
      data(
        await gql<{ chatMessages: { items: Msg[] } }>(
          app.url,
          HISTORY,
          { conversationId, first: 100 },
          { token: who.accessToken },
        ),
      ).chatMessages.items,
    markRead: (who: AuthTokens, conversationId: string, upToMessageId: string | undefined) =>
      gql<{ markChatRead: ReadResult }>(
        app.url,
        MARK_READ,
        { conversationId, upToMessageId },
        { token: who.accessToken },
      ),
    unread: async (who: AuthTokens) =>
      data(
        await gql<{ chatUnreadTotal: number }>(
          app.url,
          'query { chatUnreadTotal }',
          {},
          { token: who.accessToken },
        ),
      ).chatUnreadTotal,

    /**
     * Subscribes `who` to chatUpdates and resolves once the subscription is live: a probe published
     * on the account's channel came back (the socket's ack alone does not mean the channel is open).
     */
    subscribe: async (who: AuthTokens) => {
      const socket = wsClient(app.wsUrl, { authorization: `Bearer ${who.accessToken}` });
      sockets.push(socket);
      const received: WireUpdate[] = [];
      const failures: unknown[] = [];
      socket.client.subscribe(
        { query: UPDATES },
        {
          next: (value) => {
            if (value.errors) failures.push(value.errors);
            const update = (value.data as { chatUpdates?: WireUpdate } | null | undefined)?.chatUpdates;
            if (update) received.push(update);
          },
          error: (error) => failures.push(error),
          complete: () => {},
        },
      );
      const probe = { type: 'read', conversationId: randomUUID(), readerId: who.userId, readUpTo: 'probe' };
      await waitFor('the subscription to open', async () => {
        if (failures.length > 0) throw new Error(`chatUpdates failed: ${JSON.stringify(failures)}`);
        await app.services.pubsub.publish(chatChannel(who.userId), probe);
        await new Promise((resolve) => setTimeout(resolve, 50));
        return received.some((u) => u.type === 'READ' && u.readUpTo === 'probe');
      });
      received.length = 0;
      return { received, failures };
    },

    /** Waits until the named consumer has handled every event logged so far. */
    consumed: async (name: string) => {
      const head = await app.services.eventLog.headPosition();
      await waitFor(`${name} to catch up`, async () => {
        const consumer = (await app.services.eventLog.listConsumers()).find((c) => c.name === name);
        return consumer !== undefined && consumer.cursor >= head;
      });
    },

    setSetting: async <K extends SettingKey>(admin: AuthTokens, key: K, value: SettingValue<K>) => {
      await app.services.settings.set(adminActor(admin.userId), key, value, 'test');
    },

    /** Through the blocklist service, as a client's blockUser does: its events and rules run too. */
    block: async (blocker: string, blocked: string) => {
      await app.services.blocklist.block(blocker, blocked, 'spam', null);
    },
    unblock: async (blocker: string, blocked: string) => {
      await app.services.blocklist.unblock(blocker, blocked);
    },

    close: async () => {
      for (const s of sockets) await s.client.dispose();
    },
  };
}

/** Auto-add off: accounts created by other tests get no greetings. */
export const AUTO_ADD_OFF = {
  enabled: false,
  count: 3,
  rule: { online: 'first', language: 'any' },
  greeting: 'Hello!',
} as const satisfies SettingValue<'chat.auto_add'>;
