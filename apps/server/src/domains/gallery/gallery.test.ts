import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { waitFor } from '../timetable/testing.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { GalleryRepository } from './gallery.repository.ts';
import { DEFAULT_RULES } from './gallery.rules.ts';
import { SCORING_WINDOW, SNAPSHOT_SIZE } from './gallery.service.ts';
import { feedPage, GalleryFixture, scroll } from './gallery.test-support.ts';

const RULES = `query($role: GalleryViewerRole!) {
  galleryRules(role: $role) { role target order { key direction } boosts { tag weight } seenPenalty updatedBy }
}`;
const UPDATE_RULES = `mutation($role: GalleryViewerRole!, $rules: GalleryRulesInput!) {
  updateGalleryRules(role: $role, rules: $rules, reason: "test") { role target order { key direction } }
}`;
const HIDE = `mutation($id: ID!, $hidden: Boolean!, $reason: String) {
  setGalleryHidden(userId: $id, hidden: $hidden, reason: $reason)
}`;

/** The rules as GraphQL input (its enums are the upper-case names of the values). */
function rulesInput(rules: typeof DEFAULT_RULES.user) {
  return {
    target: rules.target.toUpperCase(),
    filters: rules.filters,
    order: rules.order.map((o) => ({ key: o.key.toUpperCase(), direction: o.direction.toUpperCase() })),
    boosts: rules.boosts,
    seenPenalty: rules.seenPenalty,
  };
}

describe('gallery feed', () => {
  let app: TestApp;
  let fx: GalleryFixture;
  let admin: AuthTokens;

  /** The viewer's whole scroll, keeping only the given accounts (other tests' accounts share the database). */
  const feedOf = async (viewer: AuthTokens, among: AuthTokens[], first = 50) => {
    const wanted = new Set(among.map((a) => a.userId));
    return (await scroll(app, viewer.accessToken, first)).filter((id) => wanted.has(id));
  };

  beforeAll(async () => {
    app = await startTestApp();
    fx = new GalleryFixture(app);
    admin = await app.signIn(['admin']);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('shows users the streamers, online first and longest online first; cards carry the public summary', async () => {
    const viewer = await fx.account(['user']);
    const offline = await fx.account(['user', 'streamer'], { name: 'Off', country: 'ES', languages: ['es'] });
    const early = await fx.account(['user', 'streamer'], { name: 'Early' });
    const late = await fx.account(['user', 'streamer'], { name: 'Late' });
    const noPhoto = await fx.account(['user', 'streamer'], { photo: false });
    const otherUser = await fx.account(['user']);
    const staff = await fx.account(['user', 'moderator', 'streamer']);
    await fx.online(early.userId);
    await fx.online(late.userId);

    const all = [offline, early, late, noPhoto, otherUser, staff, viewer];
    expect(await feedOf(viewer, all)).toEqual([early.userId, late.userId, offline.userId]);

    const page = await feedPage(app, viewer.accessToken, 100);
    const card = page.cards.find((c) => c.userId === offline.userId);
    expect(card).toMatchObject({ displayName: 'Off', country: 'ES', languages: ['es'], online: false });
    expect(card?.photoThumbnailUrl).toMatch(/\/media\/[0-9a-f-]+\/160\?expires=\d+&sig=/);
    expect(page.cards.find((c) => c.userId === early.userId)?.onlineSince).toEqual(expect.any(String));
  });

  it('shows streamers the users, online first, then the most recently active', async () => {
    const streamer = await fx.account(['user', 'streamer']);
    const otherStreamer = await fx.account(['user', 'streamer']);
    const never = await fx.account(['user']);
    const leftFirst = await fx.account(['user']);
    const leftLast = await fx.account(['user']);
    const now = await fx.account(['user']);
    await fx.online(leftFirst.userId);
    await fx.offline(leftFirst.userId);
    await fx.online(leftLast.userId);
    await fx.offline(leftLast.userId);
    await fx.online(now.userId);

    const order = await feedOf(streamer, [otherStreamer, never, leftFirst, leftLast, now, streamer]);
    expect(order).toEqual([now.userId, leftLast.userId, leftFirst.userId, never.userId]);
  });

  it('never shows a blocked account, either way, from the next request on', async () => {
    const viewer = await fx.account(['user']);
    const blockedByViewer = await fx.account(['user', 'streamer']);
    const blockerOfViewer = await fx.account(['user', 'streamer']);
    const bystander = await fx.account(['user', 'streamer']);
    const mine = [blockedByViewer, blockerOfViewer, bystander];
    expect(new Set(await feedOf(viewer, mine))).toEqual(new Set(mine.map((a) => a.userId)));

    await app.services.blocklist.block(viewer.userId, blockedByViewer.userId, 'spam', null);
    await app.services.blocklist.block(blockerOfViewer.userId, viewer.userId, 'harassment', null);
    expect(await feedOf(viewer, mine)).toEqual([bystander.userId]);
    // And the other way round: the blocked side does not see the blocker in its own feed.
    const streamerView = await feedOf(blockerOfViewer, [viewer]);
    expect(streamerView).toEqual([]);

    // In the middle of a scroll too: the next page no longer holds them.
    const viewer2 = await fx.account(['user']);
    const first = await feedPage(app, viewer2.accessToken, 1);
    expect(first.cards.map((c) => c.userId)).not.toContain(bystander.userId);
    expect((await app.services.gallery.scrollIds(viewer2.userId, first.scrollId)).has(bystander.userId)).toBe(
      true,
    );
    const rest = new Set<string>();
    await app.services.blocklist.block(viewer2.userId, bystander.userId, 'spam', null);
    let after = first.nextCursor;
    while (after) {
      const page = await feedPage(app, viewer2.accessToken, 20, after);
      for (const c of page.cards) rest.add(c.userId);
      after = page.nextCursor;
    }
    expect(rest.has(bystander.userId)).toBe(false);
  });

  it('drops a banned or hidden account from the next page of a scroll already under way', async () => {
    const viewer = await fx.account(['user']);
    const marked = await fx.account(['user', 'streamer']);
    const hidden = await fx.account(['user', 'streamer']);
    await fx.online(marked.userId);
    await fx.online(hidden.userId);
    // Both sort at the very end of the online streamers (the newest online): far past a 1-card page.
    const first = await feedPage(app, viewer.accessToken, 1);
    expect(first.cards.map((c) => c.userId)).not.toContain(marked.userId);
    const snapshot = await app.services.gallery.scrollIds(viewer.userId, first.scrollId);
    expect(snapshot.has(marked.userId) && snapshot.has(hidden.userId)).toBe(true);
    await fx.ban(marked.userId);
    const hide = await gql(
      app.url,
      HIDE,
      { id: hidden.userId, hidden: true, reason: 'fake' },
      {
        token: admin.accessToken,
      },
    );
    expect(hide.data).toEqual({ setGalleryHidden: true });
    const rest: string[] = [];
    let after = first.nextCursor;
    while (after) {
      const page = await feedPage(app, viewer.accessToken, 25, after);
      rest.push(...page.cards.map((c) => c.userId));
      after = page.nextCursor;
    }
    expect(rest).not.toContain(marked.userId);
    expect(rest).not.toContain(hidden.userId);

    const noReason = await gql(
      app.url,
      HIDE,
      { id: hidden.userId, hidden: true },
      { token: admin.accessToken },
    );
    expect(errorCodes(noReason)).toEqual(['BAD_USER_INPUT']);
    const user = await fx.account(['user']);
    expect(
      errorCodes(await gql(app.url, HIDE, { id: hidden.userId, hidden: false }, { token: user.accessToken })),
    ).toEqual(['FORBIDDEN']);
    await gql(app.url, HIDE, { id: hidden.userId, hidden: false }, { token: admin.accessToken });
    expect(await feedOf(viewer, [hidden, marked])).toEqual([hidden.userId]);
  });

  it('keeps a scroll stable while people come online and go offline: no repeats, nobody skipped', async () => {
    const viewer = await fx.account(['user']);
    const streamers: AuthTokens[] = [];
    for (let i = 0; i < 12; i++) streamers.push(await fx.account(['user', 'streamer']));
    for (const s of streamers.slice(0, 6)) await fx.online(s.userId);
    const before = await scroll(app, viewer.accessToken, 100);

    const seen = await scroll(app, viewer.accessToken, 3, async (i) => {
      // Flip a few each page: the online ones drop, offline ones jump to the top of a fresh order.
      const a = streamers[(i * 5) % streamers.length];
      const b = streamers[(i * 7 + 3) % streamers.length];
      for (const s of [a, b]) {
        if (!s) continue;
        if (await app.services.presence.isOnline(s.userId)) await fx.offline(s.userId);
        else await fx.online(s.userId);
      }
    });
    expect(seen.length).toBe(new Set(seen).size);
    expect(new Set(seen)).toEqual(new Set(before));
  });

  it('gives typed errors for bad pages and cursors', async () => {
    const viewer = await fx.account(['user']);
    expect(errorCodes(await gql(app.url, '{ galleryFeed { scrollId } }'))).toEqual(['UNAUTHENTICATED']);
    const tooMany = await gql(
      app.url,
      'query { galleryFeed(first: 500) { scrollId } }',
      {},
      {
        token: viewer.accessToken,
      },
    );
    expect(errorCodes(tooMany)).toEqual(['BAD_USER_INPUT']);
    const garbage = await gql(
      app.url,
      'query { galleryFeed(after: "nope") { scrollId } }',
      {},
      {
        token: viewer.accessToken,
      },
    );
    expect(errorCodes(garbage)).toEqual(['BAD_USER_INPUT']);
    // Someone else's cursor is not yours.
    const other = await fx.account(['user']);
    const theirs = await feedPage(app, other.accessToken, 1);
    if (!theirs.nextCursor) throw new Error('expected more than one card');
    const stolen = await gql(
      app.url,
      'query($a: String) { galleryFeed(first: 1, after: $a) { scrollId } }',
      {
        a: theirs.nextCursor,
      },
      { token: viewer.accessToken },
    );
    expect(errorCodes(stolen)).toEqual(['BAD_USER_INPUT']);
    await sql`update gallery.feed_sessions set expires_at = now() - interval '1 second' where id = ${theirs.scrollId}`.execute(
      app.database.handle.db,
    );
    const expired = await gql(
      app.url,
      'query($a: String) { galleryFeed(first: 1, after: $a) { scrollId } }',
      {
        a: theirs.nextCursor,
      },
      { token: other.accessToken },
    );
    expect(expired.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'EXPIRED' });
  });

  it('lets admins edit the rules of a role, audited; invalid rules are typed errors and change nothing', async () => {
    const read = async (role: string) =>
      (
        await gql<{ galleryRules: { order: unknown; updatedBy: string | null } }>(
          app.url,
          RULES,
          { role },
          {
            token: admin.accessToken,
          },
        )
      ).data?.galleryRules;
    expect(await read('USER')).toMatchObject({
      target: 'STREAMER',
      order: [
        { key: 'ONLINE', direction: 'DESC' },
        { key: 'ONLINE_SINCE', direction: 'ASC' },
      ],
    });
    expect(await read('STREAMER')).toMatchObject({ target: 'USER' });

    const invalid: Array<[Record<string, unknown>, string]> = [
      [{ ...rulesInput(DEFAULT_RULES.user), target: 'USER' }, 'rules.target'],
      [{ ...rulesInput(DEFAULT_RULES.user), order: [] }, 'rules.order'],
      [
        {
          ...rulesInput(DEFAULT_RULES.user),
          order: [
            { key: 'ONLINE', direction: 'ASC' },
            { key: 'ONLINE', direction: 'DESC' },
          ],
        },
        'rules.order',
      ],
      [
        {
          ...rulesInput(DEFAULT_RULES.user),
          filters: { onlineOnly: false, countries: ['spain'], languages: [] },
        },
        'rules.filters.countries.0',
      ],
      [
        { ...rulesInput(DEFAULT_RULES.user), boosts: [{ tag: 'Not A Tag', weight: 5 }] },
        'rules.boosts.0.tag',
      ],
      [
        { ...rulesInput(DEFAULT_RULES.user), boosts: [{ tag: 'vip', weight: 1000 }] },
        'rules.boosts.0.weight',
      ],
      [{ ...rulesInput(DEFAULT_RULES.user), seenPenalty: -1 }, 'rules.seenPenalty'],
    ];
    const auditBefore = await app.services.audit.list({ action: 'gallery.rules_updated' }, 100, undefined);
    for (const [rules, field] of invalid) {
      const response = await gql(
        app.url,
        UPDATE_RULES,
        { role: 'USER', rules },
        { token: admin.accessToken },
      );
      expect(errorCodes(response), field).toEqual(['BAD_USER_INPUT']);
      expect(response.errors?.[0]?.extensions?.field, field).toBe(field);
    }
    const user = await fx.account(['user']);
    const forbidden = await gql(
      app.url,
      UPDATE_RULES,
      { role: 'USER', rules: rulesInput(DEFAULT_RULES.user) },
      {
        token: user.accessToken,
      },
    );
    expect(errorCodes(forbidden)).toEqual(['FORBIDDEN']);
    expect(await app.services.audit.list({ action: 'gallery.rules_updated' }, 100, undefined)).toEqual(
      auditBefore,
    );
    expect((await read('USER'))?.updatedBy).toBeNull();

    // A valid change: newest streamers first. The next scroll follows it.
    const viewer = await fx.account(['user']);
    const older = await fx.account(['user', 'streamer']);
    const newer = await fx.account(['user', 'streamer']);
    await fx.online(older.userId);
    const newest = {
      ...DEFAULT_RULES.user,
      order: [{ key: 'created_at' as const, direction: 'desc' as const }],
    };
    const ok = await gql(
      app.url,
      UPDATE_RULES,
      { role: 'USER', rules: rulesInput(newest) },
      { token: admin.accessToken },
    );
    expect(ok.errors).toBeUndefined();
    expect(await feedOf(viewer, [older, newer])).toEqual([newer.userId, older.userId]);
    const audit = await app.services.audit.list({ action: 'gallery.rules_updated' }, 10, undefined);
    expect(audit[0]).toMatchObject({ targetId: 'user', actorId: admin.userId, after: { rules: newest } });
    // The streamers' feed kept its own rules.
    expect(await read('STREAMER')).toMatchObject({ order: [{ key: 'ONLINE' }, { key: 'LAST_SEEN_AT' }] });

    // Boosts by cohort tag and the seen penalty reorder within the scoring window.
    const { cohorts } = app.services;
    const actor = {
      principal: {
        userId: admin.userId,
        role: 'admin' as const,
        allowedRoles: ['admin' as const],
        issuer: 'test',
        sessionId: undefined,
        tokenExpiresAt: new Date(8.64e15),
      },
      requestId: null,
    };
    const cohort = await cohorts.create(actor, {
      tag: `boost-${randomUUID().slice(0, 8)}`,
      name: 'Boosted',
      kind: 'manual',
    });
    await cohorts.addMembers(actor, cohort.id, [older.userId]);
    const boosted = { ...newest, boosts: [{ tag: cohort.tag, weight: 10 }] };
    await app.services.gallery.updateRules(actor, 'user', boosted, null);
    expect(await feedOf(viewer, [older, newer])).toEqual([older.userId, newer.userId]);
    await app.services.interactions.recordProfileView(viewer.userId, older.userId);
    await waitFor('the profile view counted', async () => {
      const rows = await sql<{ n: string }>`select count(*) as n from interaction.pair_interactions
        where user_id = ${viewer.userId} and other_id = ${older.userId} and kind = 'profile_view'`.execute(
        app.database.handle.db,
      );
      return Number(rows.rows[0]?.n) > 0;
    });
    const penalised = { ...boosted, seenPenalty: 20 };
    await app.services.gallery.updateRules(actor, 'user', penalised, null);
    expect(await feedOf(viewer, [older, newer])).toEqual([newer.userId, older.userId]);
    // The service orders scored scrolls from a cached window; the single statement gives the same order.
    const served = await feedPage(app, viewer.accessToken, 1);
    const now = new Date();
    const repo = new GalleryRepository(app.database.handle.db);
    const directId = randomUUID();
    const direct = await repo.createSnapshot(
      {
        id: directId,
        viewerId: viewer.userId,
        viewerRole: 'user',
        rules: penalised,
        size: SNAPSHOT_SIZE,
        window: SCORING_WINDOW,
        now,
        expiresAt: new Date(now.getTime() + 60_000),
      },
      { target: 'streamer', onlineOnly: false, from: 1, to: 1 },
    );
    expect(direct.length).toBeGreaterThan(2);
    expect(await repo.sessionIds(served.scrollId, viewer.userId)).toEqual(
      await repo.sessionIds(directId, viewer.userId),
    );
    await app.services.gallery.updateRules(actor, 'user', DEFAULT_RULES.user, 'back to defaults');
  });
});
