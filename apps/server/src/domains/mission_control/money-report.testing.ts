import { randomUUID } from 'node:crypto';
import type { TestApp } from '../../../test/app.ts';
import { accounts } from '../balance/balance.accounts.ts';

/** Test set-up for the money tests: coins and earnings through the real ledger, KYC through its tables. */

/** Credits paid coins to a wallet, as a purchase does. */
export async function buyCoins(app: TestApp, userId: string, coins: bigint): Promise<void> {
  await app.services.ledger.execute({
    idempotencyKey: `test-purchase:${randomUUID()}`,
    kind: 'purchase',
    postings: [
      { account: accounts.storeClearing, amount: -coins },
      { account: accounts.walletPaid(userId), amount: coins },
    ],
  });
}

/** Credits payable earnings directly, as a moderator's adjustment does. */
export async function creditAvailable(
  app: TestApp,
  owner: { kind: 'user' | 'agency'; id: string },
  coins: bigint,
): Promise<void> {
  await app.services.ledger.execute({
    idempotencyKey: `test-earnings:${randomUUID()}`,
    kind: 'adjustment',
    postings: [
      { account: accounts.adjustments, amount: -coins },
      { account: accounts.earningsAvailable(owner), amount: coins },
    ],
  });
}

/**
 * Marks the account's identity check approved. The KYC flow itself (uploads, review) is tested in the
 * kyc domain; payouts only ask `kyc.isApproved`, which reads this row.
 */
export async function approveKyc(app: TestApp, userId: string): Promise<void> {
  await app.database.handle.db
    .insertInto('kyc.submissions')
    .values({
      user_id: userId,
      document_ids: [randomUUID()],
      selfie_id: randomUUID(),
      status: 'approved',
      reviewed_at: new Date(),
    })
    .execute();
}

/** An admin acting outside a request, for service calls in set-up. */
export function adminActor(userId: string) {
  return {
    principal: {
      userId,
      role: 'admin' as const,
      allowedRoles: ['admin' as const],
      issuer: 'test',
      sessionId: undefined,
      tokenExpiresAt: new Date(8.64e15),
    },
    requestId: null,
  };
}
