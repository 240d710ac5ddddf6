import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { TestApp } from '../../../test/app.ts';
import { accounts } from '../balance/balance.accounts.ts';

/**
 * Test settings for call tests: presence nodes never go stale while a test moves its clock (the
 * sweep would otherwise take the streamers offline between two steps).
 */
export const VIDEO_TEST_ENV = { PRESENCE_TTL_SECONDS: '86400' };

/** People for call tests: funded users and online, available streamers, through the real services. */
export function callPeople(app: Pick<TestApp, 'services' | 'database'>) {
  const fund = async (userId: string, coins: bigint) =>
    app.services.ledger.execute({
      idempotencyKey: `test:fund:${userId}:${randomUUID()}`,
      kind: 'purchase',
      postings: [
        { account: accounts.storeClearing, amount: -coins },
        { account: accounts.walletPaid(userId), amount: coins },
      ],
    });
  const online = async (userId: string) => {
    app.services.presence.connectionChanged({ type: 'opened', connectionId: randomUUID(), userId });
    await app.services.presence.settled();
  };
  return {
    fund,
    online,
    user: async (coins = 1000n) => {
      const { id } = await app.services.accounts.createOloAccount(['user']);
      if (coins > 0n) await fund(id, coins);
      await online(id);
      return id;
    },
    streamer: async () => {
      const { id } = await app.services.accounts.createOloAccount(['streamer']);
      await online(id);
      await app.services.presence.setAvailability(id, 'available');
      return id;
    },
    wallet: async (userId: string) => (await app.services.ledger.wallet(userId)).total,
    earned: async (userId: string) =>
      (await app.services.ledger.earnings({ kind: 'user', id: userId })).pending,
    availability: async (userId: string) =>
      (await app.services.presence.getPresence([userId]))[0]?.availability,
    /** Both sides confirm their media (the local provider's join), so the call connects. */
    connect: async (callId: string, callerId: string, calleeId: string) => {
      await app.services.callRooms.confirmMedia(callerId, callId);
      return app.services.callRooms.confirmMedia(calleeId, callId);
    },
    /** When the call's timer job is due (null when it has none). */
    jobRunAt: async (callId: string) => {
      const result = await sql<{ run_at: Date }>`
        select run_at from graphile_worker.jobs where key = ${`video:call:${callId}`}
      `.execute(app.database.handle.db);
      return result.rows[0]?.run_at ?? null;
    },
  };
}
