import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { codeOf } from '../../../test/errors.ts';
import { gql } from '../../../test/graphql-client.ts';
import { manualClock } from '../../platform/clock.ts';
import { accounts } from '../balance/balance.accounts.ts';
import type { CallRecord } from './call.repository.ts';
import { callPeople, VIDEO_TEST_ENV } from './video.test-support.ts';

const eventually = async <T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  ms = 10_000,
): Promise<T> => {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > until) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe('direct calls on the server clock', () => {
  let app: TestApp;
  // Far ahead of the real time: the timer jobs exist but never come due by themselves, so each test
  // moves the clock and runs the timer through runDeadline, the job's own path.
  const clock = manualClock(new Date('2031-06-01T10:00:00Z'));
  let people: ReturnType<typeof callPeople>;
  const later = (seconds: number) => clock.advance(seconds * 1000);
  const calls = () => app.services.calls;
  const rooms = () => app.services.callRooms;
  const ring = async (coins = 1000n) => {
    const [user, streamer] = [await people.user(coins), await people.streamer()];
    const call = await calls().request(user, streamer);
    return { user, streamer, call };
  };
  const connected = async (coins = 1000n) => {
    const { user, streamer, call } = await ring(coins);
    await calls().accept(streamer, call.id);
    const live = await people.connect(call.id, user, streamer);
    return { user, streamer, call: live };
  };
  const ended = (call: CallRecord | undefined) => [call?.state, call?.endReason, call?.endedBy];

  beforeAll(async () => {
    app = await startTestApp({ clock, env: VIDEO_TEST_ENV });
    await app.services.jobs.start();
    people = callPeople(app);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('rings, connects when both sides joined, bills by the direct tariff and leaves a record', async () => {
    const { user, streamer, call } = await ring();
    expect(call).toMatchObject({ state: 'requested', callerId: user, calleeId: streamer, payerId: user });
    expect(call.deadlineAt?.getTime()).toBe(clock.now().getTime() + 30_000);
    expect(await people.jobRunAt(call.id)).toEqual(call.deadlineAt);
    expect(await people.availability(streamer)).toBe('busy');

    expect((await calls().ringing(streamer, call.id)).state).toBe('ringing');
    const accepted = await calls().accept(streamer, call.id);
    expect(accepted).toMatchObject({ state: 'connecting', provider: 'local' });
    const half = await rooms().confirmMedia(user, call.id);
    expect(half.state).toBe('connecting');
    const live = await rooms().confirmMedia(streamer, call.id);
    expect(live.state).toBe('connected');
    // Direct tariff: 60 at connect, then 60 a minute; the streamer 30 and 30.
    expect(await people.wallet(user)).toBe(940n);

    later(65);
    await app.services.billing.runDue(call.id);
    // While connected, staff see the coins so far (billing's totals) on the live call.
    const admin = await app.signIn(['admin']);
    const liveView = await gql<{ adminCall: { charged: string; earned: string; state: string } }>(
      app.url,
      `query ($id: ID!) { adminCall(id: $id) { state charged earned } }`,
      { id: call.id },
      { token: admin.accessToken },
    );
    expect(liveView.data?.adminCall).toEqual({ state: 'CONNECTED', charged: '120', earned: '60' });
    await rooms().heartbeat(user, call.id);
    await rooms().heartbeat(streamer, call.id);
    const done = await calls().hangUp(user, call.id);
    expect(ended(done)).toEqual(['ended', 'hangup', 'caller']);
    expect(done).toMatchObject({ charged: 120n, earned: 60n });
    expect(await people.wallet(user)).toBe(880n);
    expect(await people.earned(streamer)).toBe(60n);
    expect(await people.availability(streamer)).toBe('available');
    expect(await people.jobRunAt(call.id)).toBeNull();
    const steps = (await app.services.video.history.transitions(call.id)).map((s) => s.state);
    expect(steps).toEqual(['requested', 'ringing', 'accepted', 'connecting', 'connected', 'ended']);
    // The other side is free for the next call.
    expect(await calls().activeCallOf(streamer)).toBeUndefined();
  });

  it('ends before the answer as cancelled (caller) or declined (callee); nobody pays', async () => {
    const a = await ring();
    expect(ended(await calls().hangUp(a.user, a.call.id))).toEqual(['ended', 'cancelled', 'caller']);
    const b = await ring();
    await calls().ringing(b.streamer, b.call.id);
    expect(ended(await calls().hangUp(b.streamer, b.call.id))).toEqual(['ended', 'declined', 'callee']);
    expect(await people.wallet(b.user)).toBe(1000n);
    expect(await people.availability(b.streamer)).toBe('available');
  });

  it('ends an unanswered call as missed only once the ring time-out passed on the server clock', async () => {
    const { call, streamer } = await ring();
    later(29);
    expect((await calls().runDeadline(call.id))?.state).toBe('requested');
    later(1);
    expect(ended(await calls().runDeadline(call.id))).toEqual(['ended', 'missed', 'system']);
    // A late accept cannot revive it.
    expect(await codeOf(calls().accept(streamer, call.id))).toBe('CONFLICT');
  });

  it('ends as media_failed when both sides do not join in time, and counts it against the provider', async () => {
    const { call, streamer, user } = await ring();
    await calls().accept(streamer, call.id);
    await rooms().confirmMedia(user, call.id);
    later(31);
    expect(ended(await calls().runDeadline(call.id))).toEqual(['ended', 'media_failed', 'system']);
    const [local] = await app.services.video.selector.status();
    expect(local?.recentFailures).toBeGreaterThanOrEqual(1);
    await app.services.video.selector.closeCircuit('local');
  });

  it('ends as disconnected when a side stays silent past the reconnect grace; heartbeats keep it alive', async () => {
    const { call, user, streamer } = await connected();
    later(15);
    await rooms().heartbeat(user, call.id);
    await rooms().heartbeat(streamer, call.id);
    later(15);
    // 30 s connected, last heartbeats 15 s ago: within the 20 s grace.
    expect((await calls().runDeadline(call.id))?.state).toBe('connected');
    await rooms().heartbeat(user, call.id);
    later(21);
    const done = await calls().runDeadline(call.id);
    expect(ended(done)).toEqual(['ended', 'disconnected', 'system']);
    // Billed until the end: 60 at connect only (the next checkpoint is at 60 s).
    expect(done?.charged).toBe(60n);
  });

  it('ends as insufficient_funds when billing cuts the payer off', async () => {
    // 120 covers the first stretch (60 s) and nothing after: cut off at the 120 s checkpoint.
    const { call, user } = await connected(120n);
    later(60);
    await app.services.billing.runDue(call.id);
    later(60);
    await app.services.billing.runDue(call.id);
    const done = await eventually(
      () => calls().find(call.id),
      (c) => c?.state === 'ended',
    );
    expect(ended(done)).toEqual(['ended', 'insufficient_funds', 'system']);
    expect(done?.charged).toBe(120n);
    expect(await people.wallet(user)).toBe(0n);
  });

  it('ends a call when the payer can no longer afford it at connect', async () => {
    const { call, user, streamer } = await ring(120n);
    await calls().accept(streamer, call.id);
    // Spent elsewhere between the request and the join.
    await app.services.ledger.execute({
      idempotencyKey: `test:spend:${user}`,
      kind: 'adjustment',
      postings: [
        { account: accounts.walletPaid(user), amount: -100n },
        { account: accounts.promotions, amount: 100n },
      ],
    });
    expect(ended(await people.connect(call.id, user, streamer))).toEqual([
      'ended',
      'insufficient_funds',
      'system',
    ]);
  });

  it('ends a call on a block between the two, on a ban, and by staff', async () => {
    const a = await connected();
    expect(ended(await calls().terminateCallBetween(a.streamer, a.user, 'blocked'))).toEqual([
      'ended',
      'blocked',
      'system',
    ]);

    const b = await connected();
    const admin = await app.signIn(['admin']);
    const principal = {
      userId: admin.userId,
      role: 'admin' as const,
      allowedRoles: ['admin' as const],
      issuer: 'olo',
      sessionId: undefined,
      tokenExpiresAt: new Date('2099-01-01T00:00:00Z'),
    };
    await app.services.moderation.ban({ principal, requestId: null }, b.user, 'fraud', null);
    const banned = await eventually(
      () => calls().find(b.call.id),
      (c) => c?.state === 'ended',
    );
    expect(ended(banned)).toEqual(['ended', 'banned', 'system']);

    const c = await connected();
    const byStaff = await app.services.video.history.endAsStaff(
      { principal, requestId: 'r1' },
      c.call.id,
      'nudity',
    );
    expect(ended(byStaff)).toEqual(['ended', 'staff', 'staff']);
    expect(byStaff.endNote).toBe('nudity');
  });

  it('ends as error when an account is deleted mid-call', async () => {
    const { call, user } = await connected();
    await app.services.accountDeletion.deleteAccount(user, 'DELETE');
    const done = await eventually(
      () => calls().find(call.id),
      (c) => c?.state === 'ended',
    );
    expect(ended(done)).toEqual(['ended', 'error', 'system']);
  });

  it('refuses what the state or the side does not allow, and changes nothing', async () => {
    const { call, user, streamer } = await ring();
    expect(await codeOf(calls().accept(user, call.id))).toBe('FORBIDDEN');
    expect(await codeOf(calls().ringing(user, call.id))).toBe('FORBIDDEN');
    const stranger = await people.user();
    expect(await codeOf(calls().hangUp(stranger, call.id))).toBe('NOT_FOUND');
    expect(await codeOf(rooms().credentials(user, call.id))).toBe('CONFLICT');
    expect((await rooms().confirmMedia(user, call.id)).state).toBe('requested');
    await calls().accept(streamer, call.id);
    expect(await codeOf(calls().accept(streamer, call.id))).toBe('CONFLICT');
    expect(await codeOf(calls().request(user, await people.streamer()))).toBe('CONFLICT');
    expect(await codeOf(calls().request(user, user))).toBe('BAD_USER_INPUT');
    expect(await codeOf(calls().request(user, stranger))).toBe('BAD_USER_INPUT');
    expect(await codeOf(calls().request(user, 'nope'))).toBe('BAD_USER_INPUT');
    const poor = await people.user(50n);
    expect(await codeOf(calls().request(poor, await people.streamer()))).toBe('INSUFFICIENT_FUNDS');
    expect(await calls().activeCallOf(poor)).toBeUndefined();
    const before = (await calls().find(call.id))?.version;
    await calls().hangUp(user, call.id);
    await calls().hangUp(user, call.id);
    expect((await calls().find(call.id))?.version).toBe((before ?? 0) + 1);
  });

  it('lets exactly one of many racing callers ring a streamer; the others get busy', async () => {
    const streamer = await people.streamer();
    const callers = await Promise.all(Array.from({ length: 12 }, () => people.user()));
    const results = await Promise.all(callers.map((caller) => calls().request(caller, streamer)));
    const states = results.map((c) => (c.state === 'ended' ? c.endReason : c.state));
    expect(states.filter((s) => s === 'requested')).toHaveLength(1);
    expect(states.filter((s) => s === 'busy')).toHaveLength(11);
    const ringing = results.find((c) => c.state === 'requested');
    expect((await calls().activeCallOf(streamer))?.id).toBe(ringing?.id);
    // Every busy attempt left a record for its caller and nothing live.
    for (const caller of callers) {
      const page = await app.services.video.history.list({ userId: caller }, 10);
      expect(page.items).toHaveLength(1);
    }
  });
});
