import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { manualClock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { accounts } from '../balance/balance.accounts.ts';
import type { LoggedEvent } from '../event_log/event-catalogue.ts';
import { adminActor, creditAvailable } from '../mission_control/money-report.testing.ts';
import type { SettingKey } from '../settings/settings.definitions.ts';
import { waitFor } from '../timetable/testing.ts';
import { userBanned } from '../user/user.events.ts';
import { userFined, userFlagged, userWarned } from './blocklist.events.ts';
import { BlocklistRulesRepository } from './blocklist-rules.repository.ts';
import { BlocklistRules } from './blocklist-rules.service.ts';

const FLAGS = `query($status: BlocklistFlagStatus, $first: Int) {
  blocklistFlags(status: $status, first: $first) { items { userId action outcome blockCount status } nextCursor }
}`;

describe('blocklist rules', () => {
  let app: TestApp;
  // The harassment window is on the server clock: tests move it instead of waiting.
  const clock = manualClock(new Date('2033-01-10T10:00:00Z'));
  let adminId: string;

  const events = async (type: string, userId: string): Promise<LoggedEvent[]> =>
    (await app.services.eventLog.listEvents({ type, userId }, 100)).items;
  const set = (key: SettingKey, value: unknown) =>
    app.services.settings.set(adminActor(adminId), key, value, 'blocklist rules test');
  const account = async (roles: Array<'user' | 'streamer'> = ['user']) =>
    (await app.services.accounts.createOloAccount(roles)).id;
  const accountsOf = (n: number) => Promise.all(Array.from({ length: n }, () => account()));
  /** The rules run on `user_blocked` in a consumer: wait until it has seen every block so far. */
  const rulesDone = () =>
    waitFor('the blocklist rules consumer', async () => {
      const consumers = await app.services.eventLog.listConsumers();
      const rules = consumers.find((c) => c.name === 'blocklist_rules');
      return rules !== undefined && rules.lag === 0n;
    });
  const flagsOf = (userId: string) => app.services.blocklistModeration.flagsFor(userId);

  beforeAll(async () => {
    app = await startTestApp({ clock });
    adminId = (await app.services.accounts.createOloAccount(['admin'])).id;
  });
  beforeEach(async () => {
    clock.advance(30 * 86_400_000);
    await set('blocklist.harassment_threshold', 3);
    await set('blocklist.harassment_window_hours', 24);
    await set('blocklist.harassment_action', 'flag');
    await set('blocklist.nudity_penalty', 'warning');
  });
  afterAll(async () => {
    await app?.close();
  });

  it('flags an account once when distinct harassment blocks within the window reach the threshold', async () => {
    const target = await account();
    const [a, b, c, d] = await accountsOf(4);
    if (!a || !b || !c || !d) throw new Error('no accounts');
    await app.services.blocklist.block(a, target, 'harassment', null);
    // The same blocker again (after lifting) is still one account; other reasons do not count.
    await app.services.blocklist.unblock(a, target);
    await app.services.blocklist.block(a, target, 'harassment', null);
    await app.services.blocklist.block(b, target, 'spam', null);
    await rulesDone();
    expect(await flagsOf(target)).toEqual([]);
    // A block older than the window does not count towards the next one.
    clock.advance(25 * 3_600_000);
    await app.services.blocklist.block(c, target, 'harassment', null);
    await app.services.blocklist.block(d, target, 'harassment', null);
    await rulesDone();
    expect(await flagsOf(target)).toEqual([]);
    await app.services.blocklist.block(b, target, 'spam', null); // already blocked: no event, no count
    const e = await account();
    await app.services.blocklist.block(e, target, 'harassment', null);
    await rulesDone();
    const flags = await flagsOf(target);
    expect(flags).toMatchObject([{ action: 'flag', outcome: 'flagged', blockCount: 3, status: 'open' }]);
    expect((await events(userFlagged.type, target)).map((x) => x.payload)).toMatchObject([
      { userId: target, action: 'flag', outcome: 'flagged', blockCount: 3 },
    ]);
    // Staff see it in the flags queue; users cannot.
    const moderator = await app.signIn(['user', 'moderator']);
    const queue = await gql<{ blocklistFlags: { items: Array<{ userId: string }> } }>(
      app.url,
      FLAGS,
      {},
      { token: moderator.accessToken },
    );
    expect(queue.data?.blocklistFlags.items).toContainEqual({
      userId: target,
      action: 'FLAG',
      outcome: 'FLAGGED',
      blockCount: 3,
      status: 'OPEN',
    });
    const user = await app.signIn(['user']);
    expect(errorCodes(await gql(app.url, FLAGS, {}, { token: user.accessToken }))).toEqual(['FORBIDDEN']);

    // A moderator resolves it (audited); twice is CONFLICT.
    const RESOLVE = `mutation($id: ID!, $note: String) { resolveBlocklistFlag(id: $id, note: $note) { status resolvedBy } }`;
    const flagId = flags[0]?.id;
    const resolved = await gql(
      app.url,
      RESOLVE,
      { id: flagId, note: 'talked to them' },
      { token: moderator.accessToken },
    );
    expect(resolved.data).toEqual({
      resolveBlocklistFlag: { status: 'RESOLVED', resolvedBy: moderator.userId },
    });
    expect(errorCodes(await gql(app.url, RESOLVE, { id: flagId }, { token: moderator.accessToken }))).toEqual(
      ['CONFLICT'],
    );
    expect(errorCodes(await gql(app.url, RESOLVE, { id: flagId }, { token: user.accessToken }))).toEqual([
      'FORBIDDEN',
    ]);
    const audit = await app.services.audit.list(
      { targetType: 'blocklist_flag', targetId: flagId },
      10,
      undefined,
    );
    expect(audit.map((a) => [a.action, a.actorId, a.reason])).toEqual([
      ['blocklist.flag_resolved', moderator.userId, 'talked to them'],
    ]);

    // The blocks counted are spent: one more is no second crossing, three new ones are.
    const more = await accountsOf(3);
    await app.services.blocklist.block(more[0] ?? '', target, 'harassment', null);
    await rulesDone();
    expect(await flagsOf(target)).toHaveLength(1);
    for (const m of more.slice(1)) await app.services.blocklist.block(m, target, 'harassment', null);
    await rulesDone();
    expect(await flagsOf(target)).toHaveLength(2);
  });

  it('bans exactly once when many accounts block at the same moment', async () => {
    await set('blocklist.harassment_action', 'ban');
    const target = await account(['user', 'streamer']);
    const blockers = await accountsOf(8);
    const results = await Promise.all(
      blockers.map((b) => app.services.blocklist.block(b, target, 'harassment', 'insults')),
    );
    expect(results.every((r) => r.created)).toBe(true);
    await rulesDone();
    // 8 blocks, threshold 3: one crossing or two (each counts the blocks committed when the rule
    // looks). The first bans; a second finds the account banned already. One ban, audited once.
    const flags = (await flagsOf(target)).reverse();
    expect(flags[0]).toMatchObject({ action: 'ban', outcome: 'banned' });
    expect(flags.slice(1).every((f) => f.outcome === 'already_banned')).toBe(true);
    expect(flags.every((f) => f.blockCount >= 3)).toBe(true);
    expect(flags.reduce((n, f) => n + f.blockCount, 0)).toBeLessThanOrEqual(8);
    const user = await app.services.userRepo.findUser(target);
    expect(user?.ban?.reason).toMatch(/^Blocked for harassment by \d accounts within 24 hours$/);
    expect(await events(userBanned.type, target)).toHaveLength(1);
    const audit = await app.services.audit.list({ targetType: 'user', targetId: target }, 10, undefined);
    expect(audit.map((a) => a.action)).toEqual(['user.banned']);
  });

  it('counts a crossing once even with a concurrent burst at the threshold', async () => {
    const target = await account();
    const blockers = await accountsOf(3);
    await Promise.all(blockers.map((b) => app.services.blocklist.block(b, target, 'harassment', null)));
    await rulesDone();
    expect(await flagsOf(target)).toMatchObject([{ blockCount: 3, outcome: 'flagged' }]);
    expect(await events(userFlagged.type, target)).toHaveLength(1);
  });

  it('never lets the rule ban an admin: the flag says so instead', async () => {
    await set('blocklist.harassment_action', 'ban');
    const admin = (await app.services.accounts.createOloAccount(['user', 'admin'])).id;
    for (const b of await accountsOf(3)) await app.services.blocklist.block(b, admin, 'harassment', null);
    await rulesDone();
    expect(await flagsOf(admin)).toMatchObject([{ action: 'ban', outcome: 'ban_refused', status: 'open' }]);
    expect((await app.services.userRepo.findUser(admin))?.ban).toBeNull();
    // A moderator's warning on one of the reports resolves the account's open flags.
    const [report] = (await app.services.blocklistModeration.reports({ userId: admin }, 1)).items;
    const moderator = await app.services.accounts.createOloAccount(['moderator']);
    await app.services.blocklistModeration.actOnReport(
      adminActor(moderator.id),
      report?.id ?? '',
      'warn',
      null,
    );
    expect(await flagsOf(admin)).toMatchObject([{ status: 'resolved', resolvedBy: moderator.id }]);
  });

  it('does nothing with the harassment action none', async () => {
    await set('blocklist.harassment_action', 'none');
    const target = await account();
    for (const b of await accountsOf(3)) await app.services.blocklist.block(b, target, 'harassment', null);
    await rulesDone();
    expect(await flagsOf(target)).toEqual([]);
  });

  it('fines a streamer for a nudity block through the ledger, once per blocker, and the books balance', async () => {
    await set('blocklist.nudity_penalty', 'fine');
    await set('blocklist.nudity_fine_coins', 150);
    const streamer = await account(['user', 'streamer']);
    const owner = { kind: 'user' as const, id: streamer };
    await creditAvailable(app, owner, 100n);
    // Pending earnings too: the fine takes available first, then pending.
    await app.services.ledger.execute({
      idempotencyKey: `test:pending:${streamer}`,
      kind: 'adjustment',
      postings: [
        { account: accounts.adjustments, amount: -200n },
        { account: accounts.earningsPending(owner), amount: 200n },
      ],
    });
    const revenueBefore = await app.services.ledger.balanceOf(accounts.platformRevenue);
    const [viewer, second] = await accountsOf(2);
    if (!viewer || !second) throw new Error('no accounts');
    const { block } = await app.services.blocklist.block(viewer, streamer, 'nudity', null);
    await rulesDone();
    expect(await app.services.ledger.earnings(owner)).toMatchObject({ available: 0n, pending: 150n });
    expect(await app.services.ledger.balanceOf(accounts.platformRevenue)).toBe(revenueBefore + 150n);
    const fined = await events(userFined.type, streamer);
    expect(fined.map((e) => e.payload)).toMatchObject([
      { userId: streamer, blockId: block.id, coins: '150' },
    ]);
    const penalties = await app.services.blocklistModeration.penaltiesFor(streamer);
    expect(penalties).toMatchObject([
      { kind: 'fine', coins: 150n, source: 'nudity_rule', blockId: block.id },
    ]);
    const [firstFine] = fined;
    expect(firstFine && userFined.matches(firstFine) && firstFine.payload.ledgerTransactionId).toBe(
      penalties[0]?.ledgerTx,
    );

    // Unblock and block again: the same blocker does not fine twice.
    await app.services.blocklist.unblock(viewer, streamer);
    await app.services.blocklist.block(viewer, streamer, 'nudity', null);
    await rulesDone();
    expect(await app.services.ledger.earnings(owner)).toMatchObject({ available: 0n, pending: 150n });
    // Another blocker fines again, capped at what is left.
    await set('blocklist.nudity_fine_coins', 1000);
    await app.services.blocklist.block(second, streamer, 'nudity', null);
    await rulesDone();
    expect(await app.services.ledger.earnings(owner)).toMatchObject({ available: 0n, pending: 0n });
    expect(await app.services.ledger.balanceOf(accounts.platformRevenue)).toBe(revenueBefore + 300n);
    const verified = await app.services.ledger.verify();
    expect(verified.mismatches).toEqual([]);
    expect(verified.unbalancedTransactions).toEqual([]);
    expect(verified.total).toBe(0n);
    const stats = await app.services.blocklistModeration.stats(streamer);
    expect(stats).toMatchObject({ fines: 2, fineCoins: 300n });

    // A redelivered user_blocked (the consumer's retry after a crash) fines nothing more.
    const rules = new BlocklistRules({
      repo: new BlocklistRulesRepository(app.database.handle.db),
      users: { findTarget: (id) => app.services.userRepo.findUser(id) },
      settings: app.services.settings,
      ledger: app.services.ledger,
      autoBan: async () => {
        throw new Error('no ban expected');
      },
    });
    const again = await withTransaction(app.database.handle.db, (tx) =>
      rules.apply(
        tx,
        { blockId: block.id, blockerId: viewer, blockedId: streamer, reason: 'nudity', at: clock.now() },
        async () => undefined,
      ),
    );
    expect(again).toEqual({ flag: null, penalty: null });
    expect(await app.services.ledger.balanceOf(accounts.platformRevenue)).toBe(revenueBefore + 300n);

    // Nothing left to take: a warning instead.
    const third = await account();
    const last = await app.services.blocklist.block(third, streamer, 'nudity', null);
    await rulesDone();
    const penalty = (await app.services.blocklistModeration.penaltiesFor(streamer)).find(
      (p) => p.blockId === last.block.id,
    );
    expect(penalty).toMatchObject({
      kind: 'warning',
      coins: 0n,
    });
  });

  it('warns a streamer for a nudity block when so configured, and leaves non-streamers alone', async () => {
    const streamer = await account(['user', 'streamer']);
    const user = await account();
    const [a, b] = await accountsOf(2);
    if (!a || !b) throw new Error('no accounts');
    await app.services.blocklist.block(a, streamer, 'nudity', null);
    await app.services.blocklist.block(b, user, 'nudity', null);
    await rulesDone();
    expect((await events(userWarned.type, streamer)).map((e) => e.payload)).toMatchObject([
      { userId: streamer, reason: 'nudity', source: 'nudity_rule' },
    ]);
    expect(await events(userWarned.type, user)).toEqual([]);
    expect(await app.services.blocklistModeration.penaltiesFor(user)).toEqual([]);
    await set('blocklist.nudity_penalty', 'none');
    const c = await account();
    await app.services.blocklist.block(c, streamer, 'nudity', null);
    await rulesDone();
    expect(await app.services.blocklistModeration.penaltiesFor(streamer)).toHaveLength(1);
  });
});
