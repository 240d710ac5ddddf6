import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import type { LoggedEvent } from '../event_log/event-catalogue.ts';
import { favoriteCameOnline } from '../favorites/favorites.events.ts';
import { waitFor } from '../timetable/testing.ts';
import { PREVIEW_CHARACTERS, previewOf, socialNotificationsFor } from './social.consumers.ts';

describe('previewOf', () => {
  it('keeps a short text, flattens whitespace and cuts a long one to the limit with an ellipsis', () => {
    expect(previewOf('  hello\n\nthere  ')).toBe('hello there');
    const long = previewOf('ä'.repeat(200));
    expect([...long]).toHaveLength(PREVIEW_CHARACTERS);
    expect(long.endsWith('…')).toBe(true);
    // Cut by characters, not UTF-16 units: an emoji is never split in half.
    expect(previewOf('😀'.repeat(100)).includes('\uFFFD')).toBe(false);
    expect([...previewOf('😀'.repeat(100))]).toHaveLength(PREVIEW_CHARACTERS);
  });
});

/** Chat messages and favourites coming online reach the right accounts' notification centres. */
describe('chat and favourites events become notifications', () => {
  let app: TestApp;

  const centre = async (userId: string) =>
    (await app.services.notifications.service.list(userId, 100)).items.map((n) => ({
      kind: n.kind,
      title: n.title,
      body: n.body,
    }));

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('a text message tells its recipient who wrote and what, once per event', async () => {
    const [fan, star] = [await app.signIn(['user']), await app.signIn(['user', 'streamer'])];
    await app.services.profiles.update(fan.userId, { displayName: 'Ana' });
    const sent = await app.services.chat.send(fan.userId, {
      recipientId: star.userId,
      body: 'Hi!  Are you free\nlater?',
      clientId: randomUUID(),
    });
    await waitFor('the new-message notification', async () => (await centre(star.userId)).length === 1);
    expect(await centre(star.userId)).toEqual([
      { kind: 'new_message', title: 'Ana', body: 'Hi! Are you free later?' },
    ]);
    expect(await centre(fan.userId)).toEqual([]);

    // The same event handled again (a redelivery) makes no second notification.
    const event = (await app.services.eventLog.listEvents({ type: 'message_sent' }, 100)).items.find(
      (e) => (e.payload as { messageId?: string }).messageId === sent.id,
    );
    if (!event) throw new Error('message_sent was not logged');
    await redeliver(event);
    expect(await centre(star.userId)).toHaveLength(1);
    expect(sent.replayed).toBe(false);
  });

  it('system records (a greeting, a gift or call line) make no new-message notification', async () => {
    const [fan, star] = [await app.signIn(['user']), await app.signIn(['user', 'streamer'])];
    const event: LoggedEvent = {
      id: randomUUID(),
      position: 0n,
      type: 'message_sent',
      version: 1,
      payload: {
        messageId: randomUUID(),
        conversationId: randomUUID(),
        senderId: star.userId,
        recipientId: fan.userId,
        kind: 'system',
      },
      userId: star.userId,
      occurredAt: new Date(),
    };
    const lookups = {
      displayName: async () => 'Star',
      messageText: async () => 'Welcome!',
    };
    expect(await socialNotificationsFor(event, lookups)).toEqual([]);
  });

  it("a favourite coming online tells each follower in the batch, each once, with the favourite's name", async () => {
    const star = await app.signIn(['user', 'streamer']);
    await app.services.profiles.update(star.userId, { displayName: 'Mia' });
    const followers = [await app.signIn(['user']), await app.signIn(['user']), await app.signIn(['user'])];
    const event = favoriteCameOnline.event(
      {
        favoriteId: star.userId,
        onlineSince: new Date().toISOString(),
        followerIds: followers.map((f) => f.userId),
      },
      { userId: star.userId },
    );
    const { id } = await withTransaction(app.database.handle.db, (tx) =>
      app.services.eventLog.emit(tx, event),
    );
    for (const follower of followers) {
      await waitFor(
        'the favourite-online notification',
        async () => (await centre(follower.userId)).length === 1,
      );
      expect(await centre(follower.userId)).toEqual([
        { kind: 'favourite_online', title: 'Mia is online', body: 'Mia just came online' },
      ]);
    }
    expect(await centre(star.userId)).toEqual([]);
    await redeliver({
      id,
      position: 0n,
      type: event.type,
      version: 1,
      payload: event.payload,
      userId: star.userId,
      occurredAt: new Date(),
    });
    for (const follower of followers) expect(await centre(follower.userId)).toHaveLength(1);
  });

  /** Runs an event through the same mapping and notify as the consumer, as a redelivery would. */
  async function redeliver(event: LoggedEvent): Promise<void> {
    const inputs = await socialNotificationsFor(event, {
      displayName: async (id) => (await app.services.profiles.publicProfile(id)).displayName,
      messageText: (id) => app.services.chat.messageText(id),
    });
    expect(inputs.length).toBeGreaterThan(0);
    await withTransaction(app.database.handle.db, async (tx) => {
      for (const input of inputs) await app.services.notifications.service.notify(tx, input);
    });
  }
});
