import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import type { LoggedEvent } from '../event_log/event-catalogue.ts';
import { waitFor } from '../timetable/testing.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { userDeleted } from '../user/user.events.ts';
import { userBlocked, userUnblocked, userWarned } from './blocklist.events.ts';

const BLOCK = `mutation($id: ID!, $reason: BlockReason!, $text: String) {
  blockUser(userId: $id, reason: $reason, text: $text) { created block { userId reason text since } }
}`;
const UNBLOCK = `mutation($id: ID!) { unblockUser(userId: $id) }`;
const MINE = `query($first: Int, $after: String) {
  myBlocks(first: $first, after: $after) { items { userId reason text } nextCursor }
}`;
const REPORTS = `query($status: BlockReportStatus, $reason: BlockReason, $userId: ID, $first: Int, $after: String) {
  blockReports(status: $status, reason: $reason, userId: $userId, first: $first, after: $after) {
    items { id blockerId blockedId reason text status reviewedBy reviewNote }
    nextCursor
  }
}`;
const ACT = `mutation($id: ID!, $action: BlockReportAction!, $note: String) {
  actOnBlockReport(id: $id, action: $action, note: $note) { id status reviewedBy reviewNote }
}`;
const STATS = `query($id: ID!) {
  blocklistStats(userId: $id) {
    receivedTotal activeReceived activeGiven openReports warnings receivedByReason { reason count }
  }
}`;

type MyBlockPage = {
  items: Array<{ userId: string; reason: string; text: string | null }>;
  nextCursor: string | null;
};
type Report = {
  id: string;
  blockerId: string;
  blockedId: string;
  reason: string;
  text: string | null;
  status: string;
  reviewedBy: string | null;
  reviewNote: string | null;
};

describe('blocklist', () => {
  let app: TestApp;
  let me: AuthTokens;
  let moderator: AuthTokens;

  const events = async (type: string, userId: string): Promise<LoggedEvent[]> =>
    (await app.services.eventLog.listEvents({ type, userId }, 100)).items;
  const block = (token: string, id: string | undefined, reason: string, text?: string | null) =>
    gql<{ blockUser: { created: boolean; block: { userId: string; reason: string; text: string | null } } }>(
      app.url,
      BLOCK,
      { id, reason, text },
      { token },
    );
  const myBlocks = async (token: string, first = 50, after: string | null = null) => {
    const response = await gql<{ myBlocks: MyBlockPage }>(app.url, MINE, { first, after }, { token });
    if (!response.data) throw new Error(JSON.stringify(response.errors));
    return response.data.myBlocks;
  };
  const reports = async (variables: Record<string, unknown>) => {
    const response = await gql<{ blockReports: { items: Report[]; nextCursor: string | null } }>(
      app.url,
      REPORTS,
      variables,
      { token: moderator.accessToken },
    );
    if (!response.data) throw new Error(JSON.stringify(response.errors));
    return response.data.blockReports;
  };

  beforeAll(async () => {
    app = await startTestApp();
    me = await app.signIn(['user']);
    moderator = await app.signIn(['user', 'moderator']);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('blocks once with a reason: a repeat changes nothing and emits nothing; unblocking is idempotent too', async () => {
    const other = await app.signIn(['user', 'streamer']);
    const first = await block(me.accessToken, other.userId, 'SPAM', '  sends links  ');
    expect(first.data?.blockUser).toMatchObject({
      created: true,
      block: { userId: other.userId, reason: 'SPAM', text: 'sends links' },
    });
    const again = await block(me.accessToken, other.userId, 'HARASSMENT');
    // The first reason stays: blocking again is not a second report.
    expect(again.data?.blockUser).toMatchObject({
      created: false,
      block: { reason: 'SPAM', text: 'sends links' },
    });
    expect(await app.services.blocklist.isBlockedEitherWay(other.userId, me.userId)).toBe(true);
    const blocked = (await events(userBlocked.type, me.userId)).filter(
      (e) => userBlocked.matches(e) && e.payload.blockedId === other.userId,
    );
    expect(blocked).toHaveLength(1);
    expect(blocked[0]?.payload).toMatchObject({ blockerId: me.userId, reason: 'spam', text: 'sends links' });

    const unblock = () => gql(app.url, UNBLOCK, { id: other.userId }, { token: me.accessToken });
    expect((await unblock()).data).toEqual({ unblockUser: true });
    expect((await unblock()).data).toEqual({ unblockUser: false });
    expect(await app.services.blocklist.isBlockedEitherWay(me.userId, other.userId)).toBe(false);
    const unblocked = (await events(userUnblocked.type, me.userId)).filter(
      (e) => userUnblocked.matches(e) && e.payload.blockedId === other.userId,
    );
    expect(unblocked).toHaveLength(1);
    // Blocking again after the unblock is a new block (and a new report).
    expect((await block(me.accessToken, other.userId, 'FAKE_PROFILE')).data?.blockUser.created).toBe(true);
    const all = await reports({ userId: other.userId });
    expect(all.items.map((r) => r.reason)).toEqual(['FAKE_PROFILE', 'SPAM']);
  });

  it('makes one block of the same block sent many times at once', async () => {
    const [blocker, target] = [await app.signIn(['user']), await app.signIn(['user'])];
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        app.services.blocklist.block(blocker.userId, target.userId, 'spam', null),
      ),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.block.id)).size).toBe(1);
    expect(await events(userBlocked.type, blocker.userId)).toHaveLength(1);
  });

  it('refuses bad input with typed errors and changes nothing', async () => {
    const other = await app.signIn(['user']);
    const before = await myBlocks(me.accessToken);
    const self = await block(me.accessToken, me.userId, 'SPAM');
    expect(errorCodes(self)).toEqual(['BAD_USER_INPUT']);
    expect(self.errors?.[0]?.extensions?.reason).toBe('SELF');
    expect(errorCodes(await block(me.accessToken, randomUUID(), 'SPAM'))).toEqual(['NOT_FOUND']);
    expect(errorCodes(await block(me.accessToken, 'not-an-id', 'SPAM'))).toEqual(['BAD_USER_INPUT']);
    const noText = await block(me.accessToken, other.userId, 'OTHER', '   ');
    expect(errorCodes(noText)).toEqual(['BAD_USER_INPUT']);
    expect(noText.errors?.[0]?.extensions?.field).toBe('text');
    expect(errorCodes(await block(me.accessToken, other.userId, 'OTHER', 'x'.repeat(1001)))).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect(errorCodes(await block(me.accessToken, other.userId, 'RUDE'))).toEqual([
      'GRAPHQL_VALIDATION_FAILED',
    ]);
    expect(errorCodes(await gql(app.url, BLOCK, { id: other.userId, reason: 'SPAM' }))).toEqual([
      'UNAUTHENTICATED',
    ]);
    expect(await myBlocks(me.accessToken)).toEqual(before);
    expect(await app.services.blocklist.isBlockedEitherWay(me.userId, other.userId)).toBe(false);
    expect(await events(userBlocked.type, me.userId)).toHaveLength(2);

    // "other" with a text is fine.
    const ok = await block(me.accessToken, other.userId, 'OTHER', 'asked for my address');
    expect(ok.data?.blockUser).toMatchObject({
      created: true,
      block: { reason: 'OTHER', text: 'asked for my address' },
    });
  });

  it('pages my blocks newest first; a bad cursor or size is BAD_USER_INPUT', async () => {
    const owner = await app.signIn(['user']);
    const targets: string[] = [];
    for (let i = 0; i < 5; i++) {
      const target = await app.signIn(['user']);
      targets.push(target.userId);
      expect((await block(owner.accessToken, target.userId, 'SPAM')).data?.blockUser.created).toBe(true);
    }
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: MyBlockPage = await myBlocks(owner.accessToken, 2, after);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((i) => i.userId));
      after = page.nextCursor;
    } while (after);
    expect(seen).toEqual([...targets].reverse());
    expect(errorCodes(await gql(app.url, MINE, { after: 'garbage' }, { token: owner.accessToken }))).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect(errorCodes(await gql(app.url, MINE, { first: 0 }, { token: owner.accessToken }))).toEqual([
      'BAD_USER_INPUT',
    ]);
    // Lifted blocks leave my list.
    await app.services.blocklist.unblock(owner.userId, targets[0] ?? '');
    expect((await myBlocks(owner.accessToken)).items.map((i) => i.userId)).not.toContain(targets[0]);
  });

  it('shows moderators a paginated reports queue, and each action is audited once', async () => {
    const subject = await app.signIn(['user', 'streamer']);
    const blockers = [await app.signIn(['user']), await app.signIn(['user']), await app.signIn(['user'])];
    for (const [i, b] of blockers.entries())
      await block(b.accessToken, subject.userId, i === 2 ? 'UNDERAGE' : 'SPAM', `report ${i}`);
    const seen: Report[] = [];
    let after: string | null = null;
    do {
      const page: { items: Report[]; nextCursor: string | null } = await reports({
        status: 'OPEN',
        userId: subject.userId,
        first: 2,
        after,
      });
      seen.push(...page.items);
      after = page.nextCursor;
    } while (after);
    expect(seen.map((r) => r.blockerId)).toEqual(blockers.map((b) => b.userId).reverse());
    expect(seen.every((r) => r.status === 'OPEN' && r.blockedId === subject.userId)).toBe(true);
    expect((await reports({ reason: 'UNDERAGE', userId: subject.userId })).items).toHaveLength(1);
    // Not for users.
    expect(errorCodes(await gql(app.url, REPORTS, {}, { token: me.accessToken }))).toEqual(['FORBIDDEN']);
    expect(
      errorCodes(await gql(app.url, ACT, { id: seen[0]?.id, action: 'DISMISS' }, { token: me.accessToken })),
    ).toEqual(['FORBIDDEN']);

    const act = (id: string | undefined, action: string, note?: string) =>
      gql<{ actOnBlockReport: Report }>(app.url, ACT, { id, action, note }, { token: moderator.accessToken });
    const [newest, middle, oldest] = seen;
    expect((await act(newest?.id, 'DISMISS', 'a joke')).data?.actOnBlockReport).toMatchObject({
      status: 'DISMISSED',
      reviewedBy: moderator.userId,
      reviewNote: 'a joke',
    });
    expect(errorCodes(await act(newest?.id, 'WARN'))).toEqual(['CONFLICT']);
    expect((await act(middle?.id, 'WARN', 'be nice')).data?.actOnBlockReport.status).toBe('WARNED');
    const warned = (await events(userWarned.type, subject.userId)).filter(
      (e) => userWarned.matches(e) && e.payload.source === 'moderator',
    );
    expect(warned).toHaveLength(1);
    expect((await act(oldest?.id, 'BAN', 'underage')).data?.actOnBlockReport.status).toBe('BANNED');
    const user = await app.services.userRepo.findUser(subject.userId);
    expect(user?.ban?.reason).toBe('underage');
    expect(errorCodes(await act(randomUUID(), 'DISMISS'))).toEqual(['NOT_FOUND']);
    expect(errorCodes(await act('nope', 'DISMISS'))).toEqual(['BAD_USER_INPUT']);

    for (const [report, action] of [
      [newest, 'blocklist.report_dismissed'],
      [middle, 'blocklist.report_warned'],
      [oldest, 'blocklist.report_banned'],
    ] as const) {
      const audit = await app.services.audit.list(
        { targetType: 'block', targetId: report?.id },
        10,
        undefined,
      );
      expect(audit.map((a) => [a.action, a.actorId])).toEqual([[action, moderator.userId]]);
    }
    const bans = await app.services.audit.list(
      { targetType: 'user', targetId: subject.userId },
      10,
      undefined,
    );
    expect(bans.map((a) => [a.action, a.actorId])).toEqual([['user.banned', moderator.userId]]);
    expect((await reports({ status: 'OPEN', userId: subject.userId })).items).toHaveLength(0);

    const stats = await gql<{ blocklistStats: Record<string, unknown> }>(
      app.url,
      STATS,
      { id: subject.userId },
      { token: moderator.accessToken },
    );
    expect(stats.data?.blocklistStats).toMatchObject({
      receivedTotal: 3,
      activeReceived: 3,
      activeGiven: 0,
      openReports: 0,
      warnings: 1,
    });
    expect(stats.data?.blocklistStats.receivedByReason).toContainEqual({ reason: 'SPAM', count: 2 });
  });

  it('keeps a ban refused by the ModerationService from marking the report banned', async () => {
    const admin = await app.signIn(['user', 'admin']);
    const blocker = await app.signIn(['user']);
    await block(blocker.accessToken, admin.userId, 'SPAM');
    const [report] = (await reports({ userId: admin.userId })).items;
    const refused = await gql(
      app.url,
      ACT,
      { id: report?.id, action: 'BAN' },
      { token: moderator.accessToken },
    );
    expect(errorCodes(refused)).toEqual(['FORBIDDEN']);
    expect((await reports({ userId: admin.userId })).items[0]?.status).toBe('OPEN');
  });

  it('exports the blocks an account made, and erases or anonymises them when it is deleted', async () => {
    const gone = await app.signIn(['user']);
    const target = await app.signIn(['user', 'streamer']);
    const blockerOfGone = await app.signIn(['user']);
    await block(gone.accessToken, target.userId, 'OTHER', 'my private words');
    await block(blockerOfGone.accessToken, gone.userId, 'HARASSMENT');
    const exported = await app.services.blocklist.exportFor(gone.userId);
    expect(exported).toMatchObject({
      blocks: [{ userId: target.userId, reason: 'other', text: 'my private words', unblockedAt: null }],
      blockedByCount: 1,
    });

    await withTransaction(app.database.handle.db, (tx) =>
      app.services.eventLog.emit(tx, userDeleted.event({ userId: gone.userId }, { userId: gone.userId })),
    );
    await waitFor(
      'the erasure',
      async () => !(await app.services.blocklist.isBlockedEitherWay(gone.userId, target.userId)),
    );
    // Blocks against the deleted account are gone, with only an anonymised count left behind.
    expect(await app.services.blocklist.isBlockedEitherWay(blockerOfGone.userId, gone.userId)).toBe(false);
    expect((await reports({ userId: gone.userId })).items).toHaveLength(0);
    const counts = await app.database.handle.db.selectFrom('blocklist.deleted_counts').selectAll().execute();
    expect(counts.find((c) => c.reason === 'harassment')?.blocks).toBe(1n);
    // The report it made about the streamer stays for moderators, without the deleted person's text.
    const [kept] = (await reports({ userId: target.userId })).items;
    expect(kept).toMatchObject({ blockerId: gone.userId, reason: 'OTHER', text: null, status: 'OPEN' });
    expect(await app.services.blocklist.exportFor(gone.userId)).toMatchObject({
      blocks: [{ text: null }],
      blockedByCount: 0,
    });
  });
});
