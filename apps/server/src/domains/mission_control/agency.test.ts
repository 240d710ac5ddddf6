import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { accounts } from '../balance/balance.accounts.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { agencyShare } from './agency.service.ts';
import { buyCoins } from './money-report.testing.ts';

const CREATE = `mutation($name: String!, $shareBps: Int!) {
  createAgency(name: $name, shareBps: $shareBps) { id name shareBps active }
}`;
const UPDATE = `mutation($id: ID!, $shareBps: Int, $active: Boolean) {
  updateAgency(id: $id, shareBps: $shareBps, active: $active) { id shareBps active }
}`;
const ASSIGN = `mutation($agencyId: ID!, $streamerId: ID!) {
  assignStreamerToAgency(agencyId: $agencyId, streamerId: $streamerId) { agencyId streamerId since until }
}`;
const REMOVE = `mutation($agencyId: ID!, $streamerId: ID!) {
  removeStreamerFromAgency(agencyId: $agencyId, streamerId: $streamerId)
}`;
const ADD_MANAGER = `mutation($agencyId: ID!, $userId: ID!) {
  addAgencyManager(agencyId: $agencyId, userId: $userId) { id managers { userId } }
}`;
const AGENCY = `query($id: ID!) { agency(id: $id) { id streamers { streamerId } managers { userId } } }`;
const MY_AGENCY = `query($from: DateTime, $to: DateTime) {
  myAgency(from: $from, to: $to) {
    agency { id name }
    earnings { pending available }
    earnedInPeriod
    streamers { streamerId until earnings { pending available } earnedInPeriod }
  }
}`;

describe('agencies', () => {
  let app: TestApp;
  let admin: AuthTokens;

  const createAgency = async (shareBps: number) => {
    const response = await gql<{ createAgency: { id: string } }>(
      app.url,
      CREATE,
      { name: `Agency ${randomUUID()}`, shareBps },
      { token: admin.accessToken },
    );
    const id = response.data?.createAgency.id;
    if (!id) throw new Error(JSON.stringify(response.errors));
    return id;
  };
  const assign = (agencyId: string, streamerId: string) =>
    gql(app.url, ASSIGN, { agencyId, streamerId }, { token: admin.accessToken });

  /** Charges a payer `price` and credits `earned` through the wired EarningsSplit, as billing does. */
  const earn = async (streamerId: string, earned: bigint, price = earned + 10n) => {
    const payer = await app.signIn(['user']);
    await buyCoins(app, payer.userId, price);
    await withTransaction(app.database.handle.db, async (tx) => {
      const split = await app.services.earningsSplit(tx, streamerId, earned);
      await app.services.ledger.post(tx, {
        idempotencyKey: `test-charge:${randomUUID()}`,
        kind: 'call_charge',
        spend: { userId: payer.userId, amount: price },
        postings: [...split, { account: accounts.platformRevenue, amount: price - earned }],
      });
    });
  };

  beforeAll(async () => {
    app = await startTestApp();
    admin = await app.signIn(['user', 'admin']);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('takes the share rounded down, the streamer keeps the rounding', () => {
    expect(agencyShare(99n, 1550)).toBe(15n);
    expect(agencyShare(1n, 9999)).toBe(0n);
    expect(agencyShare(10_000n, 10_000)).toBe(10_000n);
    expect(agencyShare(7n, 0)).toBe(0n);
    expect(() => agencyShare(-1n, 100)).toThrow();
  });

  it('splits a streamer’s earnings with the agency, exactly, and only while a member of an active agency', async () => {
    const streamer = await app.signIn(['user', 'streamer']);
    const alone = await withTransaction(app.database.handle.db, (tx) =>
      app.services.earningsSplit(tx, streamer.userId, 99n),
    );
    expect(alone).toEqual([
      { account: accounts.earningsPending({ kind: 'user', id: streamer.userId }), amount: 99n },
    ]);

    const agencyId = await createAgency(1550);
    expect(errorCodes(await assign(agencyId, streamer.userId))).toEqual([]);
    const split = await withTransaction(app.database.handle.db, (tx) =>
      app.services.earningsSplit(tx, streamer.userId, 99n),
    );
    expect(split).toEqual([
      { account: accounts.earningsPending({ kind: 'user', id: streamer.userId }), amount: 84n },
      { account: accounts.earningsPending({ kind: 'agency', id: agencyId }), amount: 15n },
    ]);
    const zero = await withTransaction(app.database.handle.db, (tx) =>
      app.services.earningsSplit(tx, streamer.userId, 0n),
    );
    expect(zero).toEqual([]);

    await earn(streamer.userId, 99n);
    expect((await app.services.ledger.earnings({ kind: 'user', id: streamer.userId })).pending).toBe(84n);
    expect((await app.services.ledger.earnings({ kind: 'agency', id: agencyId })).pending).toBe(15n);

    await gql(app.url, UPDATE, { id: agencyId, active: false }, { token: admin.accessToken });
    await earn(streamer.userId, 100n);
    expect((await app.services.ledger.earnings({ kind: 'user', id: streamer.userId })).pending).toBe(184n);
    expect((await app.services.ledger.earnings({ kind: 'agency', id: agencyId })).pending).toBe(15n);
  });

  it('is managed by admins only, audited, and refuses bad input', async () => {
    const streamer = await app.signIn(['user', 'streamer']);
    const moderator = await app.signIn(['user', 'moderator']);
    expect(
      errorCodes(await gql(app.url, CREATE, { name: 'X', shareBps: 100 }, { token: moderator.accessToken })),
    ).toEqual(['FORBIDDEN']);
    expect(
      errorCodes(await gql(app.url, CREATE, { name: 'Y', shareBps: 10_001 }, { token: admin.accessToken })),
    ).toEqual(['BAD_USER_INPUT']);
    const agencyId = await createAgency(2000);
    const user = await app.signIn(['user']);
    expect(errorCodes(await assign(agencyId, user.userId))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await assign(agencyId, streamer.userId))).toEqual([]);
    expect(errorCodes(await assign(agencyId, streamer.userId))).toEqual(['CONFLICT']);
    const audit = await app.services.audit.list({ targetType: 'agency', targetId: agencyId }, 10, undefined);
    expect(audit.map((a) => a.action)).toEqual(['agency.created']);
    const assigned = await app.services.audit.list(
      { targetType: 'user', targetId: streamer.userId },
      10,
      undefined,
    );
    expect(assigned[0]).toMatchObject({ action: 'agency.streamer_assigned', after: { agencyId } });
  });

  it('keeps one agency per streamer at a time, with the history', async () => {
    const streamer = await app.signIn(['user', 'streamer']);
    const first = await createAgency(1000);
    const second = await createAgency(3000);
    await assign(first, streamer.userId);
    await assign(second, streamer.userId);
    const history = await app.services.agencies.membershipsOf(streamer.userId);
    expect(history.map((m) => [m.agencyId, m.endedAt === null])).toEqual([
      [second, true],
      [first, false],
    ]);
    const firstView = await gql<{ agency: { streamers: Array<{ streamerId: string }> } }>(
      app.url,
      AGENCY,
      { id: first },
      { token: admin.accessToken },
    );
    expect(firstView.data?.agency.streamers).toEqual([]);
    expect(
      errorCodes(
        await gql(
          app.url,
          REMOVE,
          { agencyId: first, streamerId: streamer.userId },
          { token: admin.accessToken },
        ),
      ),
    ).toEqual(['NOT_FOUND']);
    expect(
      await gql(
        app.url,
        REMOVE,
        { agencyId: second, streamerId: streamer.userId },
        { token: admin.accessToken },
      ),
    ).toMatchObject({ data: { removeStreamerFromAgency: true } });
    const split = await withTransaction(app.database.handle.db, (tx) =>
      app.services.earningsSplit(tx, streamer.userId, 10n),
    );
    expect(split).toHaveLength(1);
  });

  it('shows its numbers to its managers only', async () => {
    const agencyId = await createAgency(2500);
    const manager = await app.signIn(['user']);
    const outsider = await app.signIn(['user', 'streamer']);
    const streamer = await app.signIn(['user', 'streamer']);
    const before = app.services.clock.now();
    await assign(agencyId, streamer.userId);
    await earn(streamer.userId, 40n);
    await earn(streamer.userId, 21n);
    expect(
      errorCodes(
        await gql(app.url, ADD_MANAGER, { agencyId, userId: manager.userId }, { token: manager.accessToken }),
      ),
    ).toEqual(['FORBIDDEN']);
    const added = await gql<{ addAgencyManager: { managers: Array<{ userId: string }> } }>(
      app.url,
      ADD_MANAGER,
      { agencyId, userId: manager.userId },
      { token: admin.accessToken },
    );
    expect(added.data?.addAgencyManager.managers).toEqual([{ userId: manager.userId }]);
    const other = await createAgency(100);
    expect(
      errorCodes(
        await gql(
          app.url,
          ADD_MANAGER,
          { agencyId: other, userId: manager.userId },
          { token: admin.accessToken },
        ),
      ),
    ).toEqual(['CONFLICT']);

    const report = await gql<{
      myAgency: {
        agency: { id: string };
        earnings: { pending: string; available: string };
        earnedInPeriod: string;
        streamers: Array<{
          streamerId: string;
          until: string | null;
          earnings: { pending: string };
          earnedInPeriod: string;
        }>;
      };
    }>(
      app.url,
      MY_AGENCY,
      { from: new Date(before.getTime() - 1000).toISOString() },
      { token: manager.accessToken },
    );
    expect(report.errors).toBeUndefined();
    // 40 → 10 agency / 30 streamer; 21 → 5 agency (5.25 rounded down) / 16 streamer.
    expect(report.data?.myAgency).toEqual({
      agency: { id: agencyId, name: expect.any(String) },
      earnings: { pending: '15', available: '0' },
      earnedInPeriod: '15',
      streamers: [
        {
          streamerId: streamer.userId,
          until: null,
          earnings: { pending: '46', available: '0' },
          earnedInPeriod: '46',
        },
      ],
    });
    const none = await gql(app.url, MY_AGENCY, {}, { token: outsider.accessToken });
    expect(none.data).toEqual({ myAgency: null });
    await expect(app.services.agencies.requireManager(outsider.userId, agencyId)).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    expect(errorCodes(await gql(app.url, AGENCY, { id: agencyId }, { token: manager.accessToken }))).toEqual([
      'FORBIDDEN',
    ]);
  });
});
