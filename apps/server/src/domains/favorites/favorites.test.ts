import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import type { LoggedEvent } from '../event_log/event-catalogue.ts';
import { waitFor } from '../timetable/testing.ts';
import { userCameOnline } from '../user/presence/presence.events.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { userDeleted } from '../user/user.events.ts';
import { CAME_ONLINE_BATCH, favoriteCameOnline } from './favorites.events.ts';
import { FavoritesRepository } from './favorites.repository.ts';

const ADD = `mutation($id: ID!) { addFavorite(userId: $id) }`;
const REMOVE = `mutation($id: ID!) { removeFavorite(userId: $id) }`;
const MINE = `query($first: Int, $after: String) {
  myFavorites(first: $first, after: $after) { items { userId since online availability } nextCursor }
}`;
const FOLLOWERS = `query($first: Int, $after: String) {
  myFollowers(first: $first, after: $after) { items { userId online } nextCursor }
}`;
const COUNT = `query($id: ID) { followerCount(userId: $id) }`;
const ADMIN_COUNTS = `query($id: ID) { adminFollowerCounts(userId: $id) { userId followers } }`;

type Page = { items: Array<{ userId: string; online: boolean | null }>; nextCursor: string | null };

describe('favorites', () => {
  let app: TestApp;
  let fan: AuthTokens;
  let streamers: AuthTokens[];

  const events = async (type: string, userId?: string): Promise<LoggedEvent[]> =>
    (await app.services.eventLog.listEvents({ type, ...(userId ? { userId } : {}) }, 100)).items;
  const emit = (event: Parameters<TestApp['services']['eventLog']['emit']>[1]) =>
    withTransaction(app.database.handle.db, (tx) => app.services.eventLog.emit(tx, event));

  beforeAll(async () => {
    app = await startTestApp();
    fan = await app.signIn(['user']);
    streamers = [];
    for (let i = 0; i < 3; i++) streamers.push(await app.signIn(['user', 'streamer']));
  });
  afterAll(async () => {
    await app?.close();
  });

  it('adds a streamer once: a repeat succeeds, changes nothing and emits nothing', async () => {
    const [s] = streamers;
    if (!s) throw new Error('no streamer');
    const first = await gql(app.url, ADD, { id: s.userId }, { token: fan.accessToken });
    expect(first.data).toEqual({ addFavorite: true });
    const again = await gql(app.url, ADD, { id: s.userId }, { token: fan.accessToken });
    expect(again.data).toEqual({ addFavorite: false });
    const added = (await events('favorite_added', fan.userId)).filter(
      (e) => (e.payload as { favoriteId: string }).favoriteId === s.userId,
    );
    expect(added).toHaveLength(1);
    const count = await gql(app.url, COUNT, { id: s.userId }, { token: fan.accessToken });
    expect(count.data).toEqual({ followerCount: 1 });
  });

  it('refuses what the rule forbids, with typed errors, and changes nothing', async () => {
    const other = await app.signIn(['user']);
    const notStreamer = await gql(app.url, ADD, { id: other.userId }, { token: fan.accessToken });
    expect(errorCodes(notStreamer)).toEqual(['FORBIDDEN']);
    expect(notStreamer.errors?.[0]?.extensions?.reason).toBe('NOT_A_STREAMER');
    const self = await gql(app.url, ADD, { id: fan.userId }, { token: fan.accessToken });
    expect(errorCodes(self)).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await gql(app.url, ADD, { id: randomUUID() }, { token: fan.accessToken }))).toEqual([
      'NOT_FOUND',
    ]);
    expect(errorCodes(await gql(app.url, ADD, { id: 'nope' }, { token: fan.accessToken }))).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect(errorCodes(await gql(app.url, ADD, { id: streamers[1]?.userId }))).toEqual(['UNAUTHENTICATED']);
    expect(await app.services.favorites.isFavorite(fan.userId, other.userId)).toBe(false);
  });

  it('pages my favourites newest first with presence, and a streamer pages its followers', async () => {
    for (const s of streamers.slice(1)) {
      expect((await gql(app.url, ADD, { id: s.userId }, { token: fan.accessToken })).data).toEqual({
        addFavorite: true,
      });
    }
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const response: Awaited<ReturnType<typeof gql<{ myFavorites: Page }>>> = await gql<{
        myFavorites: Page;
      }>(app.url, MINE, { first: 2, after }, { token: fan.accessToken });
      const page: Page | undefined = response.data?.myFavorites;
      if (!page) throw new Error(JSON.stringify(response.errors));
      expect(page.items.length).toBeLessThanOrEqual(2);
      for (const item of page.items) expect(item.online).toBe(false);
      seen.push(...page.items.map((i) => i.userId));
      after = page.nextCursor;
    } while (after);
    expect(seen).toEqual(streamers.map((s) => s.userId).reverse());
    const bad = await gql(app.url, MINE, { first: 2, after: 'garbage' }, { token: fan.accessToken });
    expect(errorCodes(bad)).toEqual(['BAD_USER_INPUT']);

    const [s] = streamers;
    if (!s) throw new Error('no streamer');
    const followers = await gql<{ myFollowers: Page }>(
      app.url,
      FOLLOWERS,
      { first: 10 },
      { token: s.accessToken },
    );
    expect(followers.data?.myFollowers).toEqual({
      items: [{ userId: fan.userId, online: null }],
      nextCursor: null,
    });
  });

  it('removes idempotently and moves the count down once', async () => {
    const s = streamers[2];
    if (!s) throw new Error('no streamer');
    expect((await gql(app.url, REMOVE, { id: s.userId }, { token: fan.accessToken })).data).toEqual({
      removeFavorite: true,
    });
    expect((await gql(app.url, REMOVE, { id: s.userId }, { token: fan.accessToken })).data).toEqual({
      removeFavorite: false,
    });
    expect((await gql(app.url, COUNT, {}, { token: s.accessToken })).data).toEqual({ followerCount: 0 });
    expect(await events('favorite_removed', fan.userId)).toHaveLength(1);
  });

  it('shows follower counts to staff only', async () => {
    const moderator = await app.signIn(['user', 'moderator']);
    const s = streamers[0];
    if (!s) throw new Error('no streamer');
    const response = await gql(app.url, ADMIN_COUNTS, { id: s.userId }, { token: moderator.accessToken });
    expect(response.data).toEqual({ adminFollowerCounts: [{ userId: s.userId, followers: 1 }] });
    expect(errorCodes(await gql(app.url, ADMIN_COUNTS, {}, { token: fan.accessToken }))).toEqual([
      'FORBIDDEN',
    ]);
  });

  it('tells every follower in batches of at most 500 when a favourite comes online', async () => {
    const star = await app.signIn(['user', 'streamer']);
    const repo = new FavoritesRepository(app.database.handle.db);
    // The two followers in blocked pairs are real accounts (a block needs its target to exist).
    const blockPair = [
      (await app.services.accounts.createOloAccount()).id,
      (await app.services.accounts.createOloAccount()).id,
    ];
    const followerIds = [
      ...blockPair,
      ...Array.from({ length: 2 * CAME_ONLINE_BATCH + 1 }, () => randomUUID()),
    ];
    await withTransaction(app.database.handle.db, async (tx) => {
      for (const id of followerIds) await repo.add(tx, id, star.userId, new Date());
    });
    // Blocked either way: the first follower blocked the star, the star blocked the second.
    const [blocker, blocked] = followerIds;
    if (!blocker || !blocked) throw new Error('no followers');
    await app.services.blocklist.block(blocker, star.userId, 'spam', null);
    await app.services.blocklist.block(star.userId, blocked, 'spam', null);
    const onlineSince = new Date().toISOString();
    await emit(userCameOnline.event({ userId: star.userId, onlineSince }, { userId: star.userId }));
    const batches = await waitFor('three came-online batches', async () => {
      const found = (await events(favoriteCameOnline.type, star.userId)).filter((e) =>
        favoriteCameOnline.matches(e),
      );
      return found.length >= 3 && found;
    });
    const notified = batches.flatMap((e) => (favoriteCameOnline.matches(e) ? e.payload.followerIds : []));
    expect(batches.map((e) => (e.payload as { followerIds: string[] }).followerIds.length).sort()).toEqual([
      1, 500, 500,
    ]);
    expect(new Set(notified)).toEqual(new Set(followerIds.slice(2)));
    // A favourite made before a block is hidden from both lists while the block lasts (the export
    // keeps it), and a blocked pair cannot become a favourite.
    await app.services.favorites.add(fan.userId, star.userId);
    const listed = async () => ({
      mine: (await app.services.favorites.mine(fan.userId, 100)).items.some(
        (f) => f.favoriteId === star.userId,
      ),
      followers: (await app.services.favorites.followers(star.userId, 10)).items.some(
        (f) => f.userId === fan.userId,
      ),
    });
    expect(await listed()).toEqual({ mine: true, followers: true });
    await app.services.blocklist.block(star.userId, fan.userId, 'spam', null);
    expect(await listed()).toEqual({ mine: false, followers: false });
    expect((await app.services.favorites.exportFor(fan.userId)).favorites).toContainEqual(
      expect.objectContaining({ userId: star.userId }),
    );
    await app.services.favorites.remove(fan.userId, star.userId);
    const refused = await gql(app.url, ADD, { id: star.userId }, { token: fan.accessToken });
    expect(errorCodes(refused)).toEqual(['FORBIDDEN']);
    expect(refused.errors?.[0]?.extensions?.reason).toBe('BLOCKED');
  });

  it('erases a deleted account from favourites and counts', async () => {
    const gone = await app.signIn(['user']);
    const s = streamers[0];
    if (!s) throw new Error('no streamer');
    await app.services.favorites.add(gone.userId, s.userId);
    expect(await app.services.favorites.followerCount(s.userId)).toBe(2n);
    await emit(userDeleted.event({ userId: gone.userId }, { userId: gone.userId }));
    await waitFor('the erasure', async () => (await app.services.favorites.followerCount(s.userId)) === 1n);
    expect(await app.services.favorites.isFavorite(gone.userId, s.userId)).toBe(false);
  });
});
