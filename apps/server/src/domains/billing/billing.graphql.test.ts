import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { manualClock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { accounts } from '../balance/balance.accounts.ts';
import type { AuthTokens } from '../user/session.service.ts';

const SET = `mutation ($kind: CallKind!, $cohort: String, $payer: TariffScheduleInput!, $earner: TariffScheduleInput!) {
  setTariff(kind: $kind, cohort: $cohort, payer: $payer, earner: $earner, reason: "new prices") {
    id kind cohort version payer { checkpoints { second coins } repeat { everySeconds coins } }
  }
}`;
const TARIFFS = `query ($kind: CallKind!) { tariffs(kind: $kind) { cohort version createdBy } }`;
const VERSIONS = `query ($kind: CallKind!, $cohort: String) { tariffVersions(kind: $kind, cohort: $cohort) { version } }`;
const PREVIEW = `query ($kind: CallKind!, $seconds: Int!, $version: Int) {
  tariffPreview(kind: $kind, seconds: $seconds, version: $version) {
    seconds payer earner platform checkpoints next { n second payer earner } tariff { version cohort }
  }
}`;
const CALL = `query ($callId: ID!) {
  callBilling(callId: $callId) {
    status charged earned checkpointsCharged tariff { version } charges { n second payer earner ledgerTransactionId }
  }
}`;

describe('billing over GraphQL', () => {
  let app: TestApp;
  let admin: AuthTokens;
  let user: AuthTokens;
  const clock = manualClock(new Date('2031-06-01T10:00:00Z'));

  beforeAll(async () => {
    app = await startTestApp({ clock });
    await app.services.jobs.start();
    admin = await app.signIn(['user', 'admin']);
    user = await app.signIn(['user']);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('previews the seed roulette tariff for a signed-in client', async () => {
    const response = await gql(
      app.url,
      PREVIEW,
      { kind: 'ROULETTE', seconds: 120 },
      { token: user.accessToken },
    );
    expect(response.data).toEqual({
      tariffPreview: {
        seconds: 120,
        payer: '189',
        earner: '90',
        platform: '99',
        checkpoints: 4,
        next: { n: 4, second: 180, payer: '60', earner: '30' },
        tariff: { version: 1, cohort: null },
      },
    });
    expect(errorCodes(await gql(app.url, PREVIEW, { kind: 'ROULETTE', seconds: 120 }))).toEqual([
      'UNAUTHENTICATED',
    ]);
    expect(
      errorCodes(await gql(app.url, PREVIEW, { kind: 'ROULETTE', seconds: -1 }, { token: user.accessToken })),
    ).toEqual(['BAD_USER_INPUT']);
  });

  it('lets admins set a new version (audited) and refuses others and bad schedules', async () => {
    const schedule = {
      payer: { checkpoints: [{ second: 0, coins: 10 }], repeat: { everySeconds: 30, coins: '10' } },
      earner: { checkpoints: [{ second: 30, coins: 5 }], repeat: { everySeconds: 30, coins: 5 } },
    };
    expect(
      errorCodes(await gql(app.url, SET, { kind: 'PRERECORDED', ...schedule }, { token: user.accessToken })),
    ).toEqual(['FORBIDDEN']);
    const bad = {
      ...schedule,
      payer: {
        checkpoints: [
          { second: 30, coins: 1 },
          { second: 10, coins: 1 },
        ],
      },
    };
    expect(
      errorCodes(await gql(app.url, SET, { kind: 'PRERECORDED', ...bad }, { token: admin.accessToken })),
    ).toEqual(['BAD_USER_INPUT']);
    expect(
      errorCodes(
        await gql(
          app.url,
          SET,
          { kind: 'PRERECORDED', ...schedule, payer: { checkpoints: [{ second: 0, coins: -3 }] } },
          { token: admin.accessToken },
        ),
      ),
    ).toEqual(['BAD_USER_INPUT']);
    expect(await app.services.tariffs.versions('prerecorded', null)).toHaveLength(1);

    const set = await gql(app.url, SET, { kind: 'PRERECORDED', ...schedule }, { token: admin.accessToken });
    expect(set.data).toMatchObject({
      setTariff: {
        kind: 'PRERECORDED',
        cohort: null,
        version: 2,
        payer: { checkpoints: [{ second: 0, coins: '10' }], repeat: { everySeconds: 30, coins: '10' } },
      },
    });
    const listed = await gql(app.url, TARIFFS, { kind: 'PRERECORDED' }, { token: admin.accessToken });
    expect(listed.data).toEqual({ tariffs: [{ cohort: null, version: 2, createdBy: admin.userId }] });
    const versions = await gql(app.url, VERSIONS, { kind: 'PRERECORDED' }, { token: admin.accessToken });
    expect(versions.data).toEqual({ tariffVersions: [{ version: 2 }, { version: 1 }] });
    const old = await gql(
      app.url,
      PREVIEW,
      { kind: 'PRERECORDED', seconds: 60, version: 1 },
      { token: user.accessToken },
    );
    expect(old.data).toMatchObject({ tariffPreview: { payer: '60', earner: '30' } });
    const audit = await app.database.handle.db
      .selectFrom('mission_control.audit_log')
      .select(['actor_id', 'action', 'target_id', 'reason'])
      .where('action', '=', 'billing.tariff_set')
      .execute();
    expect(audit).toEqual([
      {
        actor_id: admin.userId,
        action: 'billing.tariff_set',
        target_id: 'prerecorded:default',
        reason: 'new prices',
      },
    ]);
  });

  it("shows admins a call's billing and hides it from others", async () => {
    const payer = user.userId;
    const earner = (await app.services.accounts.createOloAccount(['streamer'])).id;
    await app.services.ledger.execute({
      idempotencyKey: `test:fund:${payer}`,
      kind: 'purchase',
      postings: [
        { account: accounts.storeClearing, amount: -500n },
        { account: accounts.walletPaid(payer), amount: 500n },
      ],
    });
    const callId = randomUUID();
    const t0 = clock.now();
    await withTransaction(app.database.handle.db, (tx) =>
      app.services.billing.start(tx, {
        callId,
        kind: 'roulette',
        payerId: payer,
        earnerId: earner,
        connectedAt: t0,
      }),
    );
    clock.set(new Date(t0.getTime() + 20_000));
    await app.services.billing.runDue(callId);
    const view = await gql(app.url, CALL, { callId }, { token: admin.accessToken });
    expect(view.data).toEqual({
      callBilling: {
        status: 'LIVE',
        charged: '69',
        earned: '30',
        checkpointsCharged: 2,
        tariff: { version: 1 },
        charges: [
          { n: 0, second: 0, payer: '9', earner: '0', ledgerTransactionId: expect.any(String) },
          { n: 1, second: 20, payer: '60', earner: '30', ledgerTransactionId: expect.any(String) },
        ],
      },
    });
    expect(errorCodes(await gql(app.url, CALL, { callId }, { token: user.accessToken }))).toEqual([
      'FORBIDDEN',
    ]);
    expect((await gql(app.url, CALL, { callId: randomUUID() }, { token: admin.accessToken })).data).toEqual({
      callBilling: null,
    });
  });
});
