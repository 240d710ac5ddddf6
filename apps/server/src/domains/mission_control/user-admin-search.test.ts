import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import type { AuthTokens } from '../user/session.service.ts';

const SEARCH = `query($filter: AdminUserFilter, $sort: AdminUserSort, $first: Int, $after: String) {
  adminUsers(filter: $filter, sort: $sort, first: $first, after: $after) {
    items { id displayName country online onlineSince lastSeenAt status }
    nextCursor
  }
}`;

type Item = {
  id: string;
  displayName: string | null;
  country: string | null;
  online: boolean;
  onlineSince: string | null;
  lastSeenAt: string | null;
};
type Page = { adminUsers: { items: Item[]; nextCursor: string | null } };

const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000);

describe('adminUsers: name, country, online and last-seen', () => {
  let app: TestApp;
  let moderator: AuthTokens;
  // A token in every display name of this file, so searches see only these accounts.
  const tag = `Qx${randomUUID().slice(0, 8)}`;

  const search = async (variables: Record<string, unknown>, token = moderator.accessToken) =>
    gql<Page>(app.url, SEARCH, variables, { token });
  const ids = (page: Awaited<ReturnType<typeof search>>) => page.data?.adminUsers.items.map((u) => u.id);

  /** An account with a profile and, when given, a presence row (as the presence module writes it). */
  const account = async (
    name: string,
    country: string | null,
    presence?: { online: boolean; onlineSince?: Date; lastSeenAt?: Date },
  ) => {
    const { userId } = await app.signIn();
    const db = app.database.handle.db;
    await db
      .insertInto('profile.profiles')
      .values({ user_id: userId, display_name: `${name} ${tag}`, country })
      .execute();
    if (presence) await setPresence(userId, presence);
    return userId;
  };
  const setPresence = async (
    userId: string,
    p: { online: boolean; onlineSince?: Date; lastSeenAt?: Date },
  ) => {
    const values = {
      user_id: userId,
      online: p.online,
      online_since: p.online ? (p.onlineSince ?? new Date()) : null,
      last_seen_at: p.lastSeenAt ?? null,
    };
    await app.database.handle.db
      .insertInto('presence.status')
      .values(values)
      .onConflict((oc) =>
        oc.column('user_id').doUpdateSet({
          online: values.online,
          online_since: values.online_since,
          last_seen_at: values.last_seen_at,
        }),
      )
      .execute();
  };

  beforeAll(async () => {
    app = await startTestApp();
    moderator = await app.signIn(['user', 'moderator']);
  });

  afterAll(async () => {
    await app?.close();
  });

  it('filters by display name substring (any case, wildcards literal), country and online, alone and combined', async () => {
    const anna = await account('Anna Smith', 'DE', { online: true, onlineSince: minutesAgo(5) });
    const hanna = await account('hANNAh 100%', 'FR', { online: false, lastSeenAt: minutesAgo(60) });
    const bob = await account('Bob', 'DE');
    const deSearch = { name: tag, country: 'de' };

    expect(new Set(ids(await search({ filter: { name: `smith ${tag}`.toUpperCase() } })))).toEqual(
      new Set([anna]),
    );
    expect(new Set(ids(await search({ filter: { name: 'ANNA' } })))).toEqual(new Set([anna, hanna]));
    // % and _ in the typed name match themselves, not any text.
    expect(ids(await search({ filter: { name: '100%' } }))).toEqual([hanna]);
    expect(ids(await search({ filter: { name: `b_b ${tag}` } }))).toEqual([]);
    expect(new Set(ids(await search({ filter: deSearch })))).toEqual(new Set([anna, bob]));
    expect(ids(await search({ filter: { ...deSearch, online: true } }))).toEqual([anna]);
    // An account with no presence row has never connected: offline.
    expect(new Set(ids(await search({ filter: { name: tag, online: false } })))).toEqual(
      new Set([hanna, bob]),
    );
    expect(
      ids(await search({ filter: { ...deSearch, online: false, role: 'user', status: 'active' } })),
    ).toEqual([bob]);

    const shown = (await search({ filter: { name: 'hannah' } })).data?.adminUsers.items[0];
    expect(shown).toMatchObject({
      id: hanna,
      displayName: `hANNAh 100% ${tag}`,
      country: 'FR',
      online: false,
      onlineSince: null,
    });
    expect(shown?.lastSeenAt).not.toBeNull();

    const badCountry = await search({ filter: { country: 'XX' } });
    expect(badCountry.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'country' });
    const emptyName = await search({ filter: { name: '  ' } });
    expect(emptyName.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'name' });
  });

  it('shows the same listing in the account detail', async () => {
    const id = await account('Detail', 'PL', { online: true, onlineSince: minutesAgo(1) });
    const detail = await gql<{ adminUser: Item }>(
      app.url,
      'query($id: ID!) { adminUser(id: $id) { id displayName country online onlineSince lastSeenAt } }',
      { id },
      { token: moderator.accessToken },
    );
    expect(detail.data?.adminUser).toMatchObject({
      id,
      displayName: `Detail ${tag}`,
      country: 'PL',
      online: true,
    });
  });

  it('sorts by last seen: online first (latest connection first), then by last seen, never seen last; ties on id', async () => {
    const sameTime = minutesAgo(30);
    const prefix = `sort${randomUUID().slice(0, 4)}`;
    const onlineOld = await account(`${prefix} a`, 'IT', { online: true, onlineSince: minutesAgo(120) });
    const onlineNew = await account(`${prefix} b`, 'IT', { online: true, onlineSince: minutesAgo(2) });
    const seenTieA = await account(`${prefix} c`, 'IT', { online: false, lastSeenAt: sameTime });
    const seenTieB = await account(`${prefix} d`, 'IT', { online: false, lastSeenAt: sameTime });
    const seenLongAgo = await account(`${prefix} e`, 'IT', { online: false, lastSeenAt: minutesAgo(600) });
    const never = await account(`${prefix} f`, 'IT');
    const [tieFirst, tieSecond] = [seenTieA, seenTieB].sort().reverse();

    const desc = [onlineNew, onlineOld, tieFirst, tieSecond, seenLongAgo, never];
    expect(ids(await search({ filter: { name: prefix }, sort: 'LAST_SEEN_DESC' }))).toEqual(desc);
    expect(ids(await search({ filter: { name: prefix }, sort: 'LAST_SEEN_ASC' }))).toEqual(
      [...desc].reverse(),
    );

    // Page by page, one at a time, gives the same order in both directions (ties included).
    for (const sort of ['LAST_SEEN_DESC', 'LAST_SEEN_ASC'] as const) {
      const seen: string[] = [];
      let after: string | null | undefined;
      do {
        const page = await search({ filter: { name: prefix }, sort, first: 1, after });
        seen.push(...(ids(page) ?? []));
        after = page.data?.adminUsers.nextCursor;
      } while (after);
      expect(seen).toEqual(sort === 'LAST_SEEN_DESC' ? desc : [...desc].reverse());
    }
  });

  it('pages without gaps or repeats among accounts whose presence does not change while paging', async () => {
    const prefix = `page${randomUUID().slice(0, 4)}`;
    const steady: string[] = [];
    for (let i = 0; i < 6; i++)
      steady.push(await account(`${prefix} s${i}`, 'ES', { online: false, lastSeenAt: minutesAgo(100 + i) }));
    const flipper = await account(`${prefix} flip`, 'ES', { online: false, lastSeenAt: minutesAgo(103.5) });
    const joiner = await account(`${prefix} join`, 'ES', { online: true, onlineSince: minutesAgo(1) });

    for (const sort of ['LAST_SEEN_DESC', 'LAST_SEEN_ASC', 'CREATED_AT_DESC'] as const) {
      const seen: string[] = [];
      let after: string | null | undefined;
      let pageNo = 0;
      do {
        const page = await search({ filter: { name: prefix }, sort, first: 2, after });
        seen.push(...(ids(page) ?? []));
        after = page.data?.adminUsers.nextCursor;
        // Between pages, one account comes online, another goes offline, and back.
        const flip = pageNo % 2 === 0;
        await setPresence(flipper, flip ? { online: true } : { online: false, lastSeenAt: new Date() });
        await setPresence(joiner, flip ? { online: false, lastSeenAt: new Date() } : { online: true });
        pageNo++;
      } while (after);
      const steadySeen = seen.filter((id) => steady.includes(id));
      const expected = sort === 'LAST_SEEN_ASC' ? [...steady].reverse() : steady;
      expect(steadySeen).toEqual(sort === 'CREATED_AT_DESC' ? [...steady].reverse() : expected);
      // Sorting by creation does not depend on presence at all: every account exactly once.
      if (sort === 'CREATED_AT_DESC') expect(new Set(seen).size).toBe(8);
      if (sort === 'CREATED_AT_DESC') expect(seen).toHaveLength(8);
      await setPresence(flipper, { online: false, lastSeenAt: minutesAgo(103.5) });
      await setPresence(joiner, { online: true, onlineSince: minutesAgo(1) });
    }

    // With `online: true`, an account that goes offline between pages simply leaves the result.
    const first = await search({ filter: { name: prefix, online: true }, sort: 'LAST_SEEN_DESC', first: 1 });
    expect(ids(first)).toEqual([joiner]);
    expect(first.data?.adminUsers.nextCursor).toBeNull();
  });

  it('refuses users with FORBIDDEN, whatever the filter', async () => {
    const user = await app.signIn();
    const result = await search(
      { filter: { name: 'a', online: true }, sort: 'LAST_SEEN_DESC' },
      user.accessToken,
    );
    expect(errorCodes(result)).toEqual(['FORBIDDEN']);
    expect(result.data?.adminUsers ?? null).toBeNull();
  });
});
