import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { codeOf } from '../../../test/errors.ts';
import { manualClock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { accounts } from '../balance/balance.accounts.ts';
import { BillingRepository } from './billing.repository.ts';
import type { StartInput } from './billing.service.ts';
import { TariffService } from './tariff.service.ts';
import { SEED_ROULETTE_TARIFF } from './tariff.ts';

describe('call billing through the ledger', () => {
  let app: TestApp;
  // Far ahead of the real time: the job queue runs (it owns the jobs schema) but never finds these
  // checkpoints due, so the test drives every run itself through runDue, the job's own path.
  const clock = manualClock(new Date('2031-05-01T10:00:00Z'));
  const newUser = async (roles: Array<'user' | 'streamer'> = ['user']) =>
    (await app.services.accounts.createOloAccount(roles)).id;
  const fund = async (userId: string, coins: bigint) =>
    app.services.ledger.execute({
      idempotencyKey: `test:fund:${userId}:${coins}`,
      kind: 'purchase',
      postings: [
        { account: accounts.storeClearing, amount: -coins },
        { account: accounts.walletPaid(userId), amount: coins },
      ],
    });
  const start = (input: StartInput) =>
    withTransaction(app.database.handle.db, (tx) => app.services.billing.start(tx, input));
  const stop = (callId: string, endedAt: Date, reason = 'hung_up') =>
    withTransaction(app.database.handle.db, (tx) => app.services.billing.stop(tx, callId, endedAt, reason));
  const at = (t0: Date, seconds: number) => new Date(t0.getTime() + seconds * 1000);
  const wallet = async (userId: string) => (await app.services.ledger.wallet(userId)).total;
  const earned = async (userId: string) =>
    (await app.services.ledger.earnings({ kind: 'user', id: userId })).pending;
  const ledgerKeys = async (callId: string) =>
    (
      await app.database.handle.db
        .selectFrom('balance.transactions')
        .select(['idempotency_key', 'kind'])
        .where('idempotency_key', 'like', `call:${callId}:cp:%`)
        .orderBy('seq')
        .execute()
    ).map((r) => `${r.kind} ${r.idempotency_key}`);
  const events = async (type: string, callId: string) =>
    (await app.services.eventLog.listEvents({ type }, 100)).items.filter(
      (e) => (e.payload as { callId?: string }).callId === callId,
    );

  beforeAll(async () => {
    app = await startTestApp({ clock });
    await app.services.jobs.start();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('seeds the roulette tariff exactly as the seed describes it', async () => {
    const [current] = await app.services.tariffs.current('roulette');
    expect(current).toMatchObject({ kind: 'roulette', cohort: '', version: 1, tariff: SEED_ROULETTE_TARIFF });
    for (const kind of ['direct', 'prerecorded'] as const) {
      expect(await app.services.tariffs.current(kind)).toHaveLength(1);
    }
  });

  it('charges the seed roulette tariff: user 9/69/129/189, streamer 0/30/60/90 at 0/20/60/120 s', async () => {
    const [payer, earner] = [await newUser(), await newUser(['streamer'])];
    await fund(payer, 1000n);
    const callId = randomUUID();
    const t0 = clock.now();
    await start({ callId, kind: 'roulette', payerId: payer, earnerId: earner, connectedAt: t0 });
    const seen: Array<[bigint, bigint]> = [[1000n - (await wallet(payer)), await earned(earner)]];
    for (const second of [20, 60, 120]) {
      clock.set(at(t0, second));
      await app.services.billing.runDue(callId);
      seen.push([1000n - (await wallet(payer)), await earned(earner)]);
    }
    expect(seen).toEqual([
      [9n, 0n],
      [69n, 30n],
      [129n, 60n],
      [189n, 90n],
    ]);
    // Running again at the same instant charges nothing twice.
    await app.services.billing.runDue(callId);
    expect(await wallet(payer)).toBe(811n);
    expect(await ledgerKeys(callId)).toEqual([0, 1, 2, 3].map((n) => `call_charge call:${callId}:cp:${n}`));

    clock.set(at(t0, 150));
    const ended = await stop(callId, at(t0, 150));
    expect(ended).toMatchObject({ status: 'ended', charged: 189n, earned: 90n, checkpointsCharged: 4 });
    const view = await app.services.billing.session(callId);
    expect(view?.charges.map((c) => [c.n, c.second, c.payerCoins, c.earnerCoins])).toEqual([
      [0, 0, 9n, 0n],
      [1, 20, 60n, 30n],
      [2, 60, 60n, 30n],
      [3, 120, 60n, 30n],
    ]);
    expect(view?.tariff.version).toBe(1);
    // Stopping again changes nothing; a late job run neither.
    await stop(callId, at(t0, 400));
    clock.set(at(t0, 400));
    await app.services.billing.runDue(callId);
    expect(await wallet(payer)).toBe(811n);
    expect(await events('billing_session_ended', callId)).toHaveLength(1);
  });

  it('charges at stop the one checkpoint the connected time reached that no run charged yet', async () => {
    const [payer, earner] = [await newUser(), await newUser(['streamer'])];
    await fund(payer, 1000n);
    const callId = randomUUID();
    const t0 = clock.now();
    await start({ callId, kind: 'roulette', payerId: payer, earnerId: earner, connectedAt: t0 });
    // The 20 s checkpoint is still uncharged (say the worker was slow): a stop at exactly 20 s reached it.
    clock.set(at(t0, 21));
    const ended = await stop(callId, at(t0, 20));
    expect(ended).toMatchObject({ status: 'ended', charged: 69n, earned: 30n });
    expect([await wallet(payer), await earned(earner)]).toEqual([1000n - 69n, 30n]);
    expect(await ledgerKeys(callId)).toHaveLength(2);
  });

  it('hands a stop with several uncharged checkpoints to the job path, one transaction each', async () => {
    const [payer, earner] = [await newUser(), await newUser(['streamer'])];
    await fund(payer, 1000n);
    const callId = randomUUID();
    const t0 = clock.now();
    await start({ callId, kind: 'roulette', payerId: payer, earnerId: earner, connectedAt: t0 });
    // Nothing ran for 2 minutes (a crash): 20, 60 and 120 s are reached but uncharged.
    clock.set(at(t0, 130));
    const ending = await stop(callId, at(t0, 125));
    expect(ending).toMatchObject({ status: 'ending', endedAt: at(t0, 125), charged: 9n });
    // A second stop changes nothing; the checkpoint job (runDue) finishes it.
    expect(await stop(callId, at(t0, 128))).toMatchObject({ status: 'ending', endedAt: at(t0, 125) });
    const ended = await app.services.billing.runDue(callId);
    expect(ended).toMatchObject({ status: 'ended', charged: 189n, earned: 90n, checkpointsCharged: 4 });
    expect([await wallet(payer), await earned(earner)]).toEqual([811n, 90n]);
    expect(await ledgerKeys(callId)).toHaveLength(4);
    await app.services.billing.runDue(callId);
    expect(await events('billing_session_ended', callId)).toHaveLength(1);
  });

  it('refuses to start a call whose first stretch the payer cannot afford, and changes nothing', async () => {
    const [payer, earner] = [await newUser(), await newUser(['streamer'])];
    await fund(payer, 128n); // the first 60 s of roulette cost 129
    expect(await app.services.billing.canStart(payer, 'roulette')).toMatchObject({
      allowed: false,
      needed: 129n,
      balance: 128n,
    });
    const callId = randomUUID();
    expect(
      await codeOf(
        start({ callId, kind: 'roulette', payerId: payer, earnerId: earner, connectedAt: clock.now() }),
      ),
    ).toBe('INSUFFICIENT_FUNDS');
    expect(await app.services.billing.session(callId)).toBeUndefined();
    expect(await wallet(payer)).toBe(128n);
  });

  it('warns before, then cuts off at the checkpoint the payer cannot afford: no debt, nothing more', async () => {
    const [payer, earner] = [await newUser(), await newUser(['streamer'])];
    await fund(payer, 200n); // covers 0..120 s (189), not 180 s (249)
    const callId = randomUUID();
    const t0 = clock.now();
    await start({ callId, kind: 'roulette', payerId: payer, earnerId: earner, connectedAt: t0 });
    for (const second of [20, 60, 120]) {
      clock.set(at(t0, second));
      await app.services.billing.runDue(callId);
    }
    // 30 s (billing.low_balance_warning_seconds) before the 180 s checkpoint the wallet cannot cover.
    expect((await app.services.billing.session(callId))?.nextRunAt).toEqual(at(t0, 150));
    expect(await events('balance_running_low', callId)).toEqual([]);
    clock.set(at(t0, 150));
    await app.services.billing.runDue(callId);
    const warnings = await events('balance_running_low', callId);
    expect(warnings.map((e) => [e.userId, e.payload])).toEqual([
      [payer, { callId, checkpoint: 4, second: 180, secondsLeft: 30, balance: '11', needed: '60' }],
    ]);

    clock.set(at(t0, 180));
    const cut = await app.services.billing.runDue(callId);
    expect(cut).toMatchObject({ status: 'cut_off', cutOffN: 4, endedAt: at(t0, 180), charged: 189n });
    expect([await wallet(payer), await earned(earner)]).toEqual([11n, 90n]);
    expect((await events('billing_call_cut_off', callId)).map((e) => e.payload)).toEqual([
      { callId, payerId: payer, earnerId: earner, checkpoint: 4, second: 180 },
    ]);
    // Nothing more: later runs, a top-up, a stop from the video domain.
    await fund(payer, 1000n);
    clock.set(at(t0, 300));
    await app.services.billing.runDue(callId);
    await stop(callId, at(t0, 300));
    expect(await wallet(payer)).toBe(1011n);
    expect(await ledgerKeys(callId)).toHaveLength(4);
    expect(await events('balance_running_low', callId)).toHaveLength(1);
    expect(await events('billing_call_cut_off', callId)).toHaveLength(1);
  });

  it('catches up overdue sessions in the reconciler, charging each checkpoint once', async () => {
    const [payer, earner] = [await newUser(), await newUser(['streamer'])];
    await fund(payer, 1000n);
    const callId = randomUUID();
    const t0 = clock.now();
    await start({ callId, kind: 'roulette', payerId: payer, earnerId: earner, connectedAt: t0 });
    clock.set(at(t0, 125));
    await Promise.all([app.services.billing.reconcile(), app.services.billing.reconcile()]);
    await app.services.billing.runDue(callId);
    expect(await wallet(payer)).toBe(811n);
    expect(await ledgerKeys(callId)).toHaveLength(4);
    expect((await app.services.billing.session(callId))?.nextRunAt).toEqual(at(t0, 180));
    await stop(callId, at(t0, 125));
  });

  it('bills a call by the tariff version it started with, and a cohort tariff wins for its payers', async () => {
    const [payer, earner] = [await newUser(), await newUser(['streamer'])];
    await fund(payer, 1000n);
    const callId = randomUUID();
    const t0 = clock.now();
    await start({ callId, kind: 'direct', payerId: payer, earnerId: earner, connectedAt: t0 });
    const actor = { principal: null, requestId: 'test' };
    const edited = await app.services.tariffs.setTariff(actor, {
      kind: 'direct',
      cohort: null,
      tariff: {
        payer: { checkpoints: [{ second: 0, coins: 100 }], repeat: { everySeconds: 60, coins: 100 } },
        earner: { checkpoints: [{ second: 0, coins: 50 }], repeat: { everySeconds: 60, coins: 50 } },
      },
    });
    expect(edited.version).toBe(2);
    clock.set(at(t0, 60));
    await app.services.billing.runDue(callId);
    // Still version 1: 60 at 0 s and 60 at 60 s.
    expect(await wallet(payer)).toBe(880n);
    await stop(callId, at(t0, 60));
    expect((await app.services.tariffs.preview({ kind: 'direct', seconds: 60 })).preview.payer).toBe(200n);
    expect(
      (await app.services.tariffs.preview({ kind: 'direct', seconds: 60, version: 1 })).preview.payer,
    ).toBe(120n);
    expect(await codeOf(app.services.tariffs.preview({ kind: 'direct', seconds: 60, version: 9 }))).toBe(
      'NOT_FOUND',
    );

    // A payer tagged 'vip' (tags come from the panel domain later) gets the vip tariff once it exists.
    const tagged = new TariffService({
      db: app.database.handle.db,
      repo: new BillingRepository(app.database.handle.db),
      audit: app.services.audit,
      eventLog: app.services.eventLog,
      clock,
      cohortTags: async (userId) => (userId === payer ? ['newcomer', 'vip'] : []),
    });
    expect((await tagged.resolveFor(payer, 'direct')).version).toBe(2);
    const vip = await tagged.setTariff(actor, {
      kind: 'direct',
      cohort: 'vip',
      tariff: { payer: { checkpoints: [{ second: 0, coins: 1 }] }, earner: { checkpoints: [] } },
    });
    expect(vip).toMatchObject({ cohort: 'vip', version: 1 });
    expect((await tagged.resolveFor(payer, 'direct')).id).toBe(vip.id);
    expect((await tagged.resolveFor(earner, 'direct')).id).toBe(edited.id);
    expect((await app.services.tariffs.current('direct')).map((t) => [t.cohort, t.version])).toEqual([
      ['', 2],
      ['vip', 1],
    ]);
    const audit = await app.database.handle.db
      .selectFrom('mission_control.audit_log')
      .select(['action', 'target_id'])
      .where('action', '=', 'billing.tariff_set')
      .orderBy('id')
      .execute();
    expect(audit).toEqual([
      { action: 'billing.tariff_set', target_id: 'direct:default' },
      { action: 'billing.tariff_set', target_id: 'direct:vip' },
    ]);
  });

  it('refuses bad starts and a stop of an unknown call', async () => {
    const payer = await newUser();
    const base = {
      callId: randomUUID(),
      kind: 'roulette' as const,
      payerId: payer,
      connectedAt: clock.now(),
    };
    expect(await codeOf(start({ ...base, earnerId: payer }))).toBe('BAD_USER_INPUT');
    expect(await codeOf(start({ ...base, earnerId: 'nope' }))).toBe('BAD_USER_INPUT');
    expect(await codeOf(stop(randomUUID(), clock.now()))).toBe('NOT_FOUND');
  });
});
