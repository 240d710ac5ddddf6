import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { accounts } from '../balance/balance.accounts.ts';
import { waitFor } from '../timetable/testing.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { approveKyc, creditAvailable } from './money-report.testing.ts';

const REQUEST = `mutation($amount: Coins!) { requestPayout(amount: $amount) { id status amount ownerKind ownerId } }`;
const APPROVE = `mutation($id: ID!) { approvePayout(id: $id) { id status } }`;
const REJECT = `mutation($id: ID!, $reason: String!) { rejectPayout(id: $id, reason: $reason) { id status reason } }`;
const PAID = `mutation($id: ID!, $reference: String!) {
  markPayoutPaid(id: $id, reference: $reference) { id status reference decidedAt decidedBy }
}`;
const MY_PAYOUTS = `query { myPayouts { items { id status amount } nextCursor } }`;
const MY_EARNINGS = `query { myEarnings { pending available } }`;
const QUEUE = `query($status: PayoutStatus) { payoutRequests(status: $status, first: 100) { items { id ownerId status } } }`;

type PayoutView = { id: string; status: string; amount: string };

describe('payouts', () => {
  let app: TestApp;
  let admin: AuthTokens;

  const verifiedStreamer = async (available: bigint) => {
    const streamer = await app.signIn(['user', 'streamer']);
    await approveKyc(app, streamer.userId);
    if (available > 0n) await creditAvailable(app, { kind: 'user', id: streamer.userId }, available);
    return streamer;
  };
  const request = (streamer: AuthTokens, amount: string | number) =>
    gql<{ requestPayout: PayoutView }>(app.url, REQUEST, { amount }, { token: streamer.accessToken });
  const earnings = (userId: string) => app.services.ledger.earnings({ kind: 'user', id: userId });

  beforeAll(async () => {
    app = await startTestApp();
    admin = await app.signIn(['user', 'admin']);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('needs an approved KYC, the minimum amount, and the funds; a refusal changes nothing', async () => {
    const unverified = await app.signIn(['user', 'streamer']);
    await creditAvailable(app, { kind: 'user', id: unverified.userId }, 5000n);
    expect(errorCodes(await request(unverified, '2000'))).toEqual(['FORBIDDEN']);

    const streamer = await verifiedStreamer(1500n);
    const tooSmall = await request(streamer, '999');
    expect(tooSmall.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'amount' });
    expect(errorCodes(await request(streamer, '0'))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await request(streamer, '2000'))).toEqual(['INSUFFICIENT_FUNDS']);
    expect(await earnings(streamer.userId)).toMatchObject({ available: 1500n });
    const mine = await gql<{ myPayouts: { items: PayoutView[] } }>(
      app.url,
      MY_PAYOUTS,
      {},
      { token: streamer.accessToken },
    );
    expect(mine.data?.myPayouts.items).toEqual([]);

    const user = await app.signIn(['user']);
    expect(errorCodes(await request(user, '1000'))).toEqual(['FORBIDDEN']);
  });

  it('holds the amount, allows one open request, and settles when paid', async () => {
    const streamer = await verifiedStreamer(5000n);
    const inFlightBefore = await app.services.ledger.balanceOf(accounts.payoutsInFlight);
    const settledBefore = await app.services.ledger.balanceOf(accounts.payoutsSettled);
    const first = await request(streamer, 3000);
    expect(first.data?.requestPayout).toMatchObject({
      status: 'REQUESTED',
      amount: '3000',
      ownerKind: 'STREAMER',
    });
    const id = first.data?.requestPayout.id as string;
    expect(await earnings(streamer.userId)).toMatchObject({ available: 2000n });
    expect(await app.services.ledger.balanceOf(accounts.payoutsInFlight)).toBe(inFlightBefore + 3000n);
    expect(errorCodes(await request(streamer, 1000))).toEqual(['CONFLICT']);

    const my = await gql<{ myEarnings: { pending: string; available: string } }>(
      app.url,
      MY_EARNINGS,
      {},
      { token: streamer.accessToken },
    );
    expect(my.data?.myEarnings).toEqual({ pending: '0', available: '2000' });

    expect(errorCodes(await gql(app.url, APPROVE, { id }, { token: streamer.accessToken }))).toEqual([
      'FORBIDDEN',
    ]);
    expect(
      errorCodes(await gql(app.url, PAID, { id, reference: 'SEPA-1' }, { token: admin.accessToken })),
    ).toEqual(['CONFLICT']);
    const queue = await gql<{ payoutRequests: { items: Array<{ id: string }> } }>(
      app.url,
      QUEUE,
      { status: 'REQUESTED' },
      { token: admin.accessToken },
    );
    expect(queue.data?.payoutRequests.items.map((p) => p.id)).toContain(id);

    expect((await gql(app.url, APPROVE, { id }, { token: admin.accessToken })).data).toEqual({
      approvePayout: { id, status: 'APPROVED' },
    });
    expect(errorCodes(await request(streamer, 1000))).toEqual(['CONFLICT']);
    expect(
      errorCodes(await gql(app.url, PAID, { id, reference: ' ' }, { token: admin.accessToken })),
    ).toEqual(['BAD_USER_INPUT']);
    const paid = await gql<{ markPayoutPaid: Record<string, unknown> }>(
      app.url,
      PAID,
      { id, reference: 'SEPA-1' },
      { token: admin.accessToken },
    );
    expect(paid.data?.markPayoutPaid).toMatchObject({
      status: 'PAID',
      reference: 'SEPA-1',
      decidedBy: admin.userId,
    });
    expect(await app.services.ledger.balanceOf(accounts.payoutsInFlight)).toBe(inFlightBefore);
    expect(await app.services.ledger.balanceOf(accounts.payoutsSettled)).toBe(settledBefore + 3000n);
    expect(await earnings(streamer.userId)).toMatchObject({ available: 2000n });
    expect(
      errorCodes(await gql(app.url, REJECT, { id, reason: 'late' }, { token: admin.accessToken })),
    ).toEqual(['CONFLICT']);

    // Closed: a new request may be made.
    expect((await request(streamer, 1000)).data?.requestPayout.status).toBe('REQUESTED');
    const audit = await app.services.audit.list({ targetType: 'payout', targetId: id }, 10, undefined);
    expect(audit.map((a) => a.action)).toEqual(['payout.paid', 'payout.approved']);
    const events = await waitFor('payout events', async () => {
      const page = await app.services.eventLog.listEvents({ userId: streamer.userId }, 50);
      const mine = page.items.filter((e) => (e.payload as { payoutId?: string }).payoutId === id);
      return mine.length === 3 ? mine : undefined;
    });
    expect(events.map((e) => [e.type, (e.payload as { status?: string }).status ?? null]).sort()).toEqual([
      ['payout_requested', null],
      ['payout_status_changed', 'approved'],
      ['payout_status_changed', 'paid'],
    ]);
  });

  it('returns the funds when rejected, from requested or approved', async () => {
    const streamer = await verifiedStreamer(4000n);
    const first = (await request(streamer, 4000)).data?.requestPayout.id as string;
    expect(await earnings(streamer.userId)).toMatchObject({ available: 0n });
    expect(
      errorCodes(await gql(app.url, REJECT, { id: first, reason: '' }, { token: admin.accessToken })),
    ).toEqual(['BAD_USER_INPUT']);
    const rejected = await gql(
      app.url,
      REJECT,
      { id: first, reason: 'Bank details missing' },
      { token: admin.accessToken },
    );
    expect(rejected.data).toEqual({
      rejectPayout: { id: first, status: 'REJECTED', reason: 'Bank details missing' },
    });
    expect(await earnings(streamer.userId)).toMatchObject({ available: 4000n });

    const second = (await request(streamer, 2500)).data?.requestPayout.id as string;
    await gql(app.url, APPROVE, { id: second }, { token: admin.accessToken });
    await gql(app.url, REJECT, { id: second, reason: 'Fraud check' }, { token: admin.accessToken });
    expect(await earnings(streamer.userId)).toMatchObject({ available: 4000n });
    const audit = await app.services.audit.list({ targetType: 'payout', targetId: second }, 10, undefined);
    expect(audit[0]).toMatchObject({ action: 'payout.rejected', reason: 'Fraud check' });
    const exported = await app.services.payouts.exportFor(streamer.userId);
    expect(exported.map((p) => [p.id, p.status])).toEqual([
      [second, 'rejected'],
      [first, 'rejected'],
    ]);
  });

  it('lets exactly one of two concurrent requests through', async () => {
    for (let round = 0; round < 3; round++) {
      const streamer = await verifiedStreamer(10_000n);
      const results = await Promise.all([request(streamer, 6000), request(streamer, 6000)]);
      const codes = results.map((r) => errorCodes(r)[0] ?? 'OK').sort();
      expect(codes).toEqual(['CONFLICT', 'OK']);
      expect(await earnings(streamer.userId)).toMatchObject({ available: 4000n });
      const mine = await app.services.payouts.listForOwner(
        { kind: 'user', id: streamer.userId },
        10,
        undefined,
      );
      expect(mine).toHaveLength(1);
    }
  });

  it('lets an agency manager request the agency’s earnings', async () => {
    const created = await gql<{ createAgency: { id: string } }>(
      app.url,
      'mutation { createAgency(name: "Payout agency", shareBps: 1000) { id } }',
      {},
      { token: admin.accessToken },
    );
    const agency = { id: created.data?.createAgency.id as string };
    const manager = await app.signIn(['user']);
    await gql(
      app.url,
      'mutation($agencyId: ID!, $userId: ID!) { addAgencyManager(agencyId: $agencyId, userId: $userId) { id } }',
      { agencyId: agency.id, userId: manager.userId },
      { token: admin.accessToken },
    );
    await creditAvailable(app, { kind: 'agency', id: agency.id }, 3000n);
    const outsider = await app.signIn(['user']);
    const REQUEST_AGENCY = `mutation($amount: Coins!) { requestAgencyPayout(amount: $amount) { status ownerKind ownerId amount } }`;
    expect(
      errorCodes(await gql(app.url, REQUEST_AGENCY, { amount: 2000 }, { token: outsider.accessToken })),
    ).toEqual(['FORBIDDEN']);
    const requested = await gql(app.url, REQUEST_AGENCY, { amount: 2000 }, { token: manager.accessToken });
    expect(requested.data).toEqual({
      requestAgencyPayout: { status: 'REQUESTED', ownerKind: 'AGENCY', ownerId: agency.id, amount: '2000' },
    });
    expect(await app.services.ledger.earnings({ kind: 'agency', id: agency.id })).toMatchObject({
      available: 1000n,
    });
  });
});
