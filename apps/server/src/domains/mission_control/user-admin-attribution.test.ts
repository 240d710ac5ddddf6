import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import type { AuthTokens } from '../user/session.service.ts';

const SEARCH = `query($filter: AdminUserFilter, $first: Int, $after: String) {
  adminUsers(filter: $filter, sort: CREATED_AT_ASC, first: $first, after: $after) { items { id } nextCursor }
}`;
const DETAIL = `query($id: ID!) { adminUser(id: $id) {
  id attribution { source mediaSource campaign adset isOrganic appsflyerId }
} }`;

type Page = { adminUsers: { items: Array<{ id: string }>; nextCursor: string | null } };

describe('adminUsers and adminUser: install attribution from the ads domain', () => {
  let app: TestApp;
  let admin: AuthTokens;
  let moderator: AuthTokens;
  let since: string;
  const users: Record<'snapSpring' | 'snapAutumn' | 'tiktok' | 'organic' | 'none', string> = {
    snapSpring: '',
    snapAutumn: '',
    tiktok: '',
    organic: '',
    none: '',
  };

  const search = (filter: Record<string, unknown>, token = admin.accessToken, page = {}) =>
    gql<Page>(app.url, SEARCH, { filter: { createdFrom: since, ...filter }, ...page }, { token });
  const ids = (result: Awaited<ReturnType<typeof search>>) => result.data?.adminUsers.items.map((u) => u.id);
  const attribute = (userId: string, data: Record<string, unknown>) =>
    app.services.ads.attribution.reportFromClient(userId, {
      conversionData: data,
      appsflyerId: `af-${userId.slice(0, 8)}`,
      platform: 'ios',
      appInstanceId: null,
    });

  beforeAll(async () => {
    app = await startTestApp();
    admin = await app.signIn(['user', 'admin']);
    moderator = await app.signIn(['user', 'moderator']);
    since = new Date().toISOString();
    for (const key of Object.keys(users) as Array<keyof typeof users>) {
      users[key] = (await app.signIn()).userId;
    }
    const paid = { af_status: 'Non-organic', af_adset: 'set-1' };
    await attribute(users.snapSpring, { ...paid, media_source: 'snapchat_int', campaign: 'spring' });
    await attribute(users.snapAutumn, { ...paid, media_source: 'snapchat_int', campaign: 'autumn' });
    await attribute(users.tiktok, { ...paid, media_source: 'tiktokglobal_int', campaign: 'spring' });
    await attribute(users.organic, { af_status: 'Organic' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('filters by media source and campaign, alone or together', async () => {
    expect(ids(await search({ mediaSource: 'snapchat_int' }))).toEqual([users.snapSpring, users.snapAutumn]);
    expect(ids(await search({ campaign: 'spring' }))).toEqual([users.snapSpring, users.tiktok]);
    expect(ids(await search({ mediaSource: 'snapchat_int', campaign: 'spring' }))).toEqual([
      users.snapSpring,
    ]);
    expect(ids(await search({ mediaSource: 'unknown_network' }))).toEqual([]);
    // As in the daily report, accounts without attribution count as organic.
    expect(ids(await search({ mediaSource: 'organic' }))).toEqual([users.organic, users.none]);
    // The filter keeps to keyset pages like every other one.
    const first = await search({ mediaSource: 'snapchat_int' }, admin.accessToken, { first: 1 });
    expect(ids(first)).toEqual([users.snapSpring]);
    const second = await search({ mediaSource: 'snapchat_int' }, admin.accessToken, {
      first: 1,
      after: first.data?.adminUsers.nextCursor,
    });
    expect(ids(second)).toEqual([users.snapAutumn]);
    expect(errorCodes(await search({ campaign: '  ' }))).toEqual(['BAD_USER_INPUT']);
  });

  it("shows an account's current attribution to admins, null when none was reported", async () => {
    const detail = await gql<{ adminUser: { attribution: Record<string, unknown> | null } }>(
      app.url,
      DETAIL,
      { id: users.snapSpring },
      { token: admin.accessToken },
    );
    expect(detail.errors).toBeUndefined();
    expect(detail.data?.adminUser.attribution).toEqual({
      source: 'client',
      mediaSource: 'snapchat_int',
      campaign: 'spring',
      adset: 'set-1',
      isOrganic: false,
      appsflyerId: `af-${users.snapSpring.slice(0, 8)}`,
    });
    const none = await gql<{ adminUser: { attribution: unknown } }>(
      app.url,
      DETAIL,
      { id: users.none },
      { token: admin.accessToken },
    );
    expect(none.data?.adminUser.attribution).toBeNull();
    const listed = await gql<{ adminUsers: { items: Array<{ id: string; attribution: unknown }> } }>(
      app.url,
      `query($filter: AdminUserFilter) { adminUsers(filter: $filter) { items { id attribution { campaign } } } }`,
      { filter: { createdFrom: since, mediaSource: 'tiktokglobal_int' } },
      { token: admin.accessToken },
    );
    expect(listed.data?.adminUsers.items).toEqual([
      { id: users.tiktok, attribution: { campaign: 'spring' } },
    ]);
  });

  it('keeps attribution from moderators, as the rest of the ads data', async () => {
    expect(ids(await search({}, moderator.accessToken))).toHaveLength(Object.keys(users).length);
    expect(errorCodes(await search({ mediaSource: 'snapchat_int' }, moderator.accessToken))).toEqual([
      'FORBIDDEN',
    ]);
    expect(errorCodes(await search({ campaign: 'spring' }, moderator.accessToken))).toEqual(['FORBIDDEN']);
    const detail = await gql(app.url, DETAIL, { id: users.snapSpring }, { token: moderator.accessToken });
    expect(errorCodes(detail)).toEqual(['FORBIDDEN']);
  });
});
