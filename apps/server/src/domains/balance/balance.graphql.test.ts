import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql, wsClient } from '../../../test/graphql-client.ts';
import type { AuthTokens } from '../user/session.service.ts';

const ADJUST = `mutation($userId: ID!, $account: UserAccountKind!, $amount: Coins!, $reason: String!, $key: String!) {
  adjustBalance(userId: $userId, account: $account, amount: $amount, reason: $reason, idempotencyKey: $key) {
    transactionId replayed
  }
}`;
const WALLET = 'query { myWallet { paid bonus total inDebt paidVersion bonusVersion } }';
const HISTORY = `query($after: String) {
  myBalanceHistory(first: 2, after: $after) { items { id transactionKind account amount balanceAfter version metadata } nextCursor }
}`;

type Wallet = { paid: string; bonus: string; total: string; inDebt: boolean; paidVersion: string };

describe('balance API', () => {
  let app: TestApp;
  let moderator: AuthTokens;

  beforeAll(async () => {
    app = await startTestApp();
    moderator = await app.signIn(['user', 'moderator']);
  });
  afterAll(async () => {
    await app?.close();
  });

  const adjust = (
    userId: string,
    amount: string,
    key: string,
    account = 'WALLET_PAID',
    token = moderator.accessToken,
  ) =>
    gql<{ adjustBalance: { transactionId: string; replayed: boolean } }>(
      app.url,
      ADJUST,
      { userId, account, amount, reason: 'goodwill after a failed call', key },
      { token },
    );

  it('lets staff adjust a balance with a reason, audited, idempotent by key, never below zero', async () => {
    const user = await app.signIn(['user']);
    const first = await adjust(user.userId, '150', `adj-${user.userId}-1`);
    expect(first.errors).toBeUndefined();
    const replay = await adjust(user.userId, '150', `adj-${user.userId}-1`);
    expect(replay.data?.adjustBalance).toEqual({
      transactionId: first.data?.adjustBalance.transactionId,
      replayed: true,
    });
    expect(errorCodes(await adjust(user.userId, '-151', `adj-${user.userId}-2`))).toEqual([
      'INSUFFICIENT_FUNDS',
    ]);
    expect(errorCodes(await adjust(user.userId, '1.5', `adj-${user.userId}-3`))).toEqual([
      'GRAPHQL_VALIDATION_FAILED',
    ]);
    expect(
      errorCodes(await adjust(user.userId, '10', `adj-${user.userId}-4`, 'WALLET_PAID', user.accessToken)),
    ).toEqual(['FORBIDDEN']);
    const wallet = await gql<{ myWallet: Wallet }>(app.url, WALLET, {}, { token: user.accessToken });
    expect(wallet.data?.myWallet).toMatchObject({
      paid: '150',
      total: '150',
      inDebt: false,
      paidVersion: '1',
    });
    const audit = await app.services.audit.list(
      { targetId: user.userId, action: 'balance.adjusted' },
      10,
      undefined,
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actorId: moderator.userId, reason: 'goodwill after a failed call' });
  });

  it('pages the caller’s history newest first without gaps or repeats', async () => {
    const user = await app.signIn(['user']);
    for (let i = 1; i <= 5; i++)
      expect((await adjust(user.userId, String(i), `hist-${user.userId}-${i}`)).errors).toBeUndefined();
    const amounts: string[] = [];
    let after: string | null = null;
    do {
      const page: Awaited<
        ReturnType<
          typeof gql<{ myBalanceHistory: { items: Array<{ amount: string }>; nextCursor: string | null } }>
        >
      > = await gql(app.url, HISTORY, { after }, { token: user.accessToken });
      amounts.push(...(page.data?.myBalanceHistory.items.map((i) => i.amount) ?? []));
      after = page.data?.myBalanceHistory.nextCursor ?? null;
    } while (after);
    expect(amounts).toEqual(['5', '4', '3', '2', '1']);
  });

  it('streams the caller’s balance changes with consecutive versions', async () => {
    const user = await app.signIn(['user']);
    const other = await app.signIn(['user']);
    const socket = wsClient(app.wsUrl, { authorization: `Bearer ${user.accessToken}` });
    const received: Array<{
      changes: Array<{ account: string; balance: string; version: string; delta: string }>;
    }> = [];
    socket.client.subscribe(
      {
        query:
          'subscription { balanceEvents { transactionId transactionKind changes { account delta balance version } } }',
      },
      {
        next: (value) =>
          received.push((value.data as { balanceEvents: (typeof received)[number] }).balanceEvents),
        error: () => {},
        complete: () => {},
      },
    );
    try {
      // Live once a change comes through; each try is a real adjustment.
      let tries = 0;
      while (received.length === 0 && tries < 100) {
        await adjust(user.userId, '1', `stream-${user.userId}-warm-${tries++}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await adjust(other.userId, '7', `stream-${other.userId}-other`);
      for (let i = 0; i < 3; i++) await adjust(user.userId, '10', `stream-${user.userId}-${i}`);
      for (let i = 0; i < 100 && received.length < tries + 3; i++)
        await new Promise((r) => setTimeout(r, 50));
      const last = received.slice(-3).map((e) => e.changes[0]);
      const base = Number(last[0]?.version);
      expect(last.map((c) => c?.version)).toEqual([String(base), String(base + 1), String(base + 2)]);
      expect(last.map((c) => c?.delta)).toEqual(['10', '10', '10']);
      expect(last.at(-1)?.balance).toBe(String(tries + 30));
      expect(received.every((e) => e.changes.every((c) => c.delta !== '7'))).toBe(true);
    } finally {
      await socket.client.dispose();
    }
  });
});
