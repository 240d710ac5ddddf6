import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { wsClient } from '../../../test/graphql-client.ts';
import { waitFor } from '../timetable/testing.ts';
import { DELETE_CONFIRMATION } from '../user/account-deletion.service.ts';
import { feedPage, GalleryFixture } from './gallery.test-support.ts';

/** The read model fed by events, the rebuild, and the change subscription. */
describe('gallery events', () => {
  let app: TestApp;
  let fx: GalleryFixture;

  beforeAll(async () => {
    app = await startTestApp();
    fx = new GalleryFixture(app);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('keeps the read model current from events alone, and the rebuild repairs drift', async () => {
    const db = app.database.handle.db;
    const card = async (id: string) =>
      (
        await sql<{ kind: string; photo_id: string | null; online: boolean; banned: boolean }>`
        select kind, photo_id, online, banned from gallery.cards where user_id = ${id}`.execute(db)
      ).rows[0];
    const streamer = await fx.account(['user', 'streamer'], { refresh: false });
    await waitFor('the card with its approved photo', async () => (await card(streamer.userId))?.photo_id);
    await fx.online(streamer.userId);
    await fx.ban(streamer.userId);
    await waitFor('the ban in the read model', async () => (await card(streamer.userId))?.banned);
    await app.services.moderation.unban(await fx.adminActor(), streamer.userId, null);
    await waitFor('the ban lifted', async () => (await card(streamer.userId))?.banned === false);

    // A change no event reports (a role taken away), then the rebuild task's run.
    await app.services.moderation.setRoles(await fx.adminActor(), streamer.userId, ['user'], 'test');
    await app.services.gallery.rebuild();
    expect(await card(streamer.userId)).toMatchObject({ kind: 'user', online: true });

    await app.services.accountDeletion.deleteAccount(streamer.userId, DELETE_CONFIRMATION);
    await waitFor('the card removed', async () => (await card(streamer.userId)) === undefined);
  });

  it('tells a scroll when one of its cards comes online or goes offline, and nothing else', async () => {
    const viewer = await fx.account(['user']);
    const watched = await fx.account(['user', 'streamer']);
    const page = await feedPage(app, viewer.accessToken, 100);
    expect(page.cards.map((c) => c.userId)).toContain(watched.userId);
    const outsider = await app.signIn(['user', 'streamer']);

    const received: Array<{ userId: string; online: boolean }> = [];
    const { client } = wsClient(app.wsUrl, { authorization: `Bearer ${viewer.accessToken}` });
    client.subscribe(
      {
        query: 'subscription($s: ID!) { galleryFeedChanged(scrollId: $s) { userId online onlineSince } }',
        variables: { s: page.scrollId },
      },
      {
        next: (value) => {
          const change = (
            value.data as { galleryFeedChanged?: { userId: string; online: boolean } } | undefined
          )?.galleryFeedChanged;
          if (change) received.push(change);
        },
        error: () => {},
        complete: () => {},
      },
    );
    // The subscription registers asynchronously and nothing is replayed: flip until it hears one.
    await waitFor('the subscription to hear the card come online', async () => {
      await fx.online(outsider.userId);
      await fx.online(watched.userId);
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (received.some((c) => c.userId === watched.userId && c.online)) return true;
      await fx.offline(watched.userId);
      await fx.offline(outsider.userId);
      return false;
    });
    received.length = 0;
    await fx.offline(watched.userId);
    await waitFor('the card going offline', () =>
      received.some((c) => c.userId === watched.userId && !c.online),
    );
    expect(received.every((c) => c.userId === watched.userId)).toBe(true);

    // Someone else's scroll is not mine to watch.
    const other = await fx.account(['user']);
    const theirs = await feedPage(app, other.accessToken, 1);
    const outcome = await new Promise<unknown>((resolve) => {
      client.subscribe(
        {
          query: 'subscription($s: ID!) { galleryFeedChanged(scrollId: $s) { userId } }',
          variables: { s: theirs.scrollId },
        },
        { next: (value) => resolve(value.errors), error: resolve, complete: () => resolve(undefined) },
      );
    });
    expect(JSON.stringify(outcome)).toContain('NOT_FOUND');
    await client.dispose();
  });
});
