import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../../test/app.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/database.ts';
import { type ServerProcess, startServerProcess } from '../../../test/server-process.ts';
import { buildApp } from '../../app.ts';
import { systemClock } from '../../platform/clock.ts';
import { platformMigrations, readMigrations } from '../../platform/db/migrator.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import type { Services } from '../../services.ts';
import { accounts } from '../balance/balance.accounts.ts';
import { domainMigrations } from '../registry.ts';
import { waitFor } from '../timetable/testing.ts';
import { billingJobKey } from './session-end.ts';
import { chargesUpTo, parseTariff } from './tariff.ts';

// A checkpoint every second, so a short test crosses many of them while no server runs.
const FAST = parseTariff({
  payer: { checkpoints: [{ second: 0, coins: 2 }], repeat: { everySeconds: 1, coins: 2 } },
  earner: { checkpoints: [{ second: 1, coins: 1 }], repeat: { everySeconds: 1, coins: 1 } },
});

describe('billing survives every server process being killed mid-call', () => {
  let database: TestDatabase;
  let services: Services;
  let shutdown: () => Promise<void>;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    // This process drives billing the way the video domain will (its service, on the shared
    // database); it never starts jobs or cron: the server processes run them.
    const built = await buildApp({
      config: testConfig(),
      database: database.handle,
      migrations: await readMigrations([platformMigrations, ...domainMigrations]),
      clock: systemClock,
    });
    services = built.services;
    shutdown = built.shutdown;
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop('SIGKILL')));
    await shutdown?.();
    await database?.drop();
  });

  it('charges every checkpoint the connected time reached exactly once after a SIGKILL and restart', async () => {
    const env = { DATABASE_URL: database.url, SEED_DEMO_DATA: 'false' };
    const first = await startServerProcess({ env });
    servers.push(first);
    const db = database.handle.db;
    const system = { principal: null, requestId: 'billing-crash-test' };
    await services.tariffs.setTariff(system, { kind: 'direct', cohort: null, tariff: FAST });
    const payer = (await services.accounts.createOloAccount(['user'])).id;
    const earner = (await services.accounts.createOloAccount(['streamer'])).id;
    await services.ledger.execute({
      idempotencyKey: `test:fund:${payer}`,
      kind: 'purchase',
      postings: [
        { account: accounts.storeClearing, amount: -100_000n },
        { account: accounts.walletPaid(payer), amount: 100_000n },
      ],
    });
    const callId = randomUUID();
    const connectedAt = new Date();
    await withTransaction(db, (tx) =>
      services.billing.start(tx, { callId, kind: 'direct', payerId: payer, earnerId: earner, connectedAt }),
    );
    const charged = async () => (await services.billing.session(callId))?.checkpointsCharged ?? 0;
    await waitFor('the first server to charge a few checkpoints', async () => (await charged()) >= 4);

    expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    // What a worker killed inside the job leaves behind: the call's job locked by a dead worker,
    // which graphile-worker would not hand out again for 4 hours.
    await sql`
      update graphile_worker._private_jobs set locked_at = now(), locked_by = 'killed-worker'
      where key = ${billingJobKey(callId)}
    `.execute(db);
    const chargedWhileDown = await charged();
    await new Promise((resolve) => setTimeout(resolve, 3_000));

    const second = await startServerProcess({ env });
    servers.push(second);
    // The reconciler catches up what was missed; then the rescheduled job keeps the call going.
    const reachedNow = () => Math.floor((Date.now() - connectedAt.getTime()) / 1000) + 1;
    await waitFor(
      'the restarted server to catch up',
      async () => (await charged()) >= reachedNow() - 1,
      60_000,
    );
    const caughtUp = await charged();
    expect(caughtUp).toBeGreaterThan(chargedWhileDown + 2);
    await waitFor('checkpoints after the catch-up', async () => (await charged()) >= caughtUp + 2, 30_000);

    // Stopped first, so that no checkpoint after the end is charged behind the stop's back.
    expect(await second.stop()).toEqual({ code: 0, signal: null });
    const endedAt = new Date();
    await withTransaction(db, (tx) => services.billing.stop(tx, callId, endedAt, 'hung_up'));
    // A stop that found several checkpoints uncharged leaves them to the checkpoint job; no server
    // runs any more, so run that job's work here.
    const ended = await services.billing.runDue(callId);
    const seconds = Math.floor((endedAt.getTime() - connectedAt.getTime()) / 1000);
    const expected = chargesUpTo(FAST, seconds);

    const keys = await db
      .selectFrom('balance.transactions')
      .select('idempotency_key')
      .where('idempotency_key', 'like', `call:${callId}:cp:%`)
      .execute();
    const reached = Array.from({ length: expected.checkpoints }, (_, n) => `call:${callId}:cp:${n}`);
    expect(keys.map((k) => k.idempotency_key).sort()).toEqual(reached.sort());
    const view = await services.billing.session(callId);
    expect(view?.charges.map((c) => c.n)).toEqual(reached.map((_, n) => n));
    expect(ended).toMatchObject({ status: 'ended', charged: expected.payer, earned: expected.earner });
    expect((await services.ledger.wallet(payer)).total).toBe(100_000n - expected.payer);
    expect((await services.ledger.earnings({ kind: 'user', id: earner })).pending).toBe(expected.earner);
    const errors = second
      .output()
      .split('\n')
      .filter((line) => line.includes('"level":50'));
    expect(errors).toEqual([]);
  }, 120_000);
});
