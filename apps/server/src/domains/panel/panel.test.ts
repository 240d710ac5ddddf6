import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { manualClock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { createProduct } from '../payment/payment.test-support.ts';
import { waitFor } from '../timetable/testing.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { callEnded } from '../video/call.events.ts';

const CREATE = `mutation($input: CohortInput!) {
  createCohort(input: $input) { id tag kind rule active memberCount }
}`;
const UPDATE = `mutation($id: ID!, $patch: CohortPatch!) { updateCohort(id: $id, patch: $patch) { id tag active memberCount } }`;
const COHORT = `query($id: ID!, $after: ID) {
  cohort(id: $id) { tag memberCount members(first: 2, after: $after) { items { userId displayName } nextCursor } }
}`;
const PREVIEW = `query($rule: JSON!) { previewCohort(rule: $rule, sample: 5) { count sample { userId displayName } } }`;
const ADD = `mutation($id: ID!, $userIds: [ID!]!) { addCohortMembers(cohortId: $id, userIds: $userIds) }`;
const REMOVE = `mutation($id: ID!, $userIds: [ID!]!) { removeCohortMembers(cohortId: $id, userIds: $userIds) }`;
const SET_TAGS = `mutation($userId: ID!, $tags: [String!]!) { setUserTags(userId: $userId, tags: $tags) }`;
const USER_TAGS = `query($userId: ID!) { userPanelTags(userId: $userId) { tags cohortTags } }`;
const UPDATE_PROFILE = `mutation($input: UpdateProfileInput!) { updateMyProfile(input: $input) { userId } }`;
const BUY = `mutation($sku: String!) { sandboxPurchase(productId: $sku) { id state } }`;
const AUDIT = `query($filter: AuditFilter) { auditLog(filter: $filter) { items { action actorId } } }`;

const DAY = 86_400_000;
const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

describe('panel cohorts', () => {
  let app: TestApp;
  let admin: AuthTokens;
  const clock = manualClock(new Date('2026-03-01T12:00:00Z'));

  const create = async (input: Record<string, unknown>, token = admin.accessToken) =>
    gql<{ createCohort: { id: string; tag: string; memberCount: number } }>(
      app.url,
      CREATE,
      { input },
      { token },
    );
  const tagsOf = (userId: string) => app.services.cohorts.tagsOf(userId);

  beforeAll(async () => {
    app = await startTestApp({ clock, env: { PAYMENTS_SANDBOX: 'true' } });
  });
  // Each test moves the clock as it needs: a fresh admin session keeps its token valid.
  beforeEach(async () => {
    admin = await app.signIn(['user', 'admin']);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('cohort membership follows attribute changes', async () => {
    const spenders = unique('spenders');
    const germans = unique('de');
    const french = unique('fr');
    const rule = {
      all: [
        { attribute: 'coins_bought', op: 'gte', value: 150 },
        { attribute: 'last_active_at', op: 'within_days', days: 30 },
      ],
    };
    expect((await create({ tag: spenders, name: 'Spenders', kind: 'RULE', rule })).errors).toBeUndefined();
    const de = { attribute: 'country', op: 'eq', value: 'DE' };
    expect((await create({ tag: germans, name: 'Germany', kind: 'RULE', rule: de })).errors).toBeUndefined();
    const fr = { attribute: 'country', op: 'in', values: ['FR', 'BE'] };
    expect((await create({ tag: french, name: 'France', kind: 'RULE', rule: fr })).errors).toBeUndefined();

    const user = await app.signIn(['user']);
    // Active now: a WebSocket opened and closed (presence records it and emits the events).
    const connectionId = randomUUID();
    app.services.presence.connectionChanged({ type: 'opened', connectionId, userId: user.userId });
    await app.services.presence.settled();
    app.services.presence.connectionChanged({ type: 'closed', connectionId, userId: user.userId });
    await app.services.presence.settled();

    const sku = unique('pack').replace('-', '_');
    await createProduct(app, admin.accessToken, { sku, coins: 100 });
    const buy = async () => {
      const bought = await gql(app.url, BUY, { sku }, { token: user.accessToken });
      expect(bought.errors).toBeUndefined();
    };
    await buy();
    // 100 coins: below the threshold. The second purchase (200) puts the buyer in, by event.
    await waitFor('the first purchase counted', async () => {
      const facts = await app.database.handle.db
        .selectFrom('panel.user_facts')
        .select('coins_bought')
        .where('user_id', '=', user.userId)
        .executeTakeFirst();
      return facts?.coins_bought === 100n;
    });
    expect(await tagsOf(user.userId)).not.toContain(spenders);
    await buy();
    await waitFor('the buyer joins the spenders', async () => (await tagsOf(user.userId)).includes(spenders));

    // Country is read live from the profile; the timetable task picks the change up.
    await gql(app.url, UPDATE_PROFILE, { input: { country: 'DE' } }, { token: user.accessToken });
    await app.services.cohorts.recomputeAll();
    expect(await tagsOf(user.userId)).toEqual([germans, spenders].sort());
    await gql(app.url, UPDATE_PROFILE, { input: { country: 'FR' } }, { token: user.accessToken });
    await app.services.cohorts.recomputeAll();
    expect(await tagsOf(user.userId)).toEqual([french, spenders].sort());

    // 31 days without activity: the next recompute drops the user from the spenders.
    clock.advance(31 * DAY);
    await app.services.cohorts.recomputeAll();
    expect(await tagsOf(user.userId)).toEqual([french]);
  });

  it('joins on sign-up and on connected calls by event, without waiting for the timetable', async () => {
    const fresh = unique('fresh');
    const callers = unique('callers');
    const signedUp = { attribute: 'signed_up_at', op: 'within_days', days: 1 };
    const freshCohort = await create({ tag: fresh, name: 'Fresh', kind: 'RULE', rule: signedUp });
    expect(freshCohort.errors).toBeUndefined();
    const called = { attribute: 'calls_made', op: 'gte', value: 1 };
    const callersCohort = await create({ tag: callers, name: 'Callers', kind: 'RULE', rule: called });
    expect(callersCohort.errors).toBeUndefined();

    // Signed up after the cohort exists: only the user_sign_up event can put the account in.
    const user = await app.signIn(['user']);
    const streamer = await app.signIn(['user', 'streamer']);
    await waitFor('the sign-up joins', async () => (await tagsOf(user.userId)).includes(fresh));
    expect(await tagsOf(user.userId)).not.toContain(callers);

    const ended = (connected: boolean) =>
      callEnded.event({
        callId: randomUUID(),
        kind: 'direct',
        callerId: user.userId,
        calleeId: streamer.userId,
        payerId: user.userId,
        earnerId: streamer.userId,
        provider: null,
        callerName: 'Caller',
        reason: 'hangup',
        endedBy: 'caller',
        answered: connected,
        connected,
        durationSeconds: connected ? 60 : 0,
        charged: '0',
        earned: '0',
      } as Parameters<typeof callEnded.event>[0]);
    const emit = (event: ReturnType<typeof ended>) =>
      withTransaction(app.database.handle.db, (tx) => app.services.eventLog.emit(tx, event));
    // A missed call is no call; a connected one puts both sides in.
    await emit(ended(false));
    await emit(ended(true));
    await waitFor('both sides join the callers', async () => {
      const [a, b] = await Promise.all([tagsOf(user.userId), tagsOf(streamer.userId)]);
      return a.includes(callers) && b.includes(callers);
    });
    const facts = await app.database.handle.db
      .selectFrom('panel.user_facts')
      .select('calls_made')
      .where('user_id', '=', user.userId)
      .executeTakeFirst();
    expect(Number(facts?.calls_made)).toBe(1);
    // Deactivated, so the accounts the next tests sign up are in no cohort of this one.
    for (const cohort of [freshCohort, callersCohort]) {
      const off = await gql(
        app.url,
        UPDATE,
        { id: cohort.data?.createCohort.id, patch: { active: false } },
        { token: admin.accessToken },
      );
      expect(off.errors).toBeUndefined();
    }
  });

  it('admins create, preview and edit cohorts through GraphQL; audited; typed errors', async () => {
    const moderator = await app.signIn(['user', 'moderator']);
    const plain = await app.signIn(['user']);
    const tagged = await app.signIn(['user']);
    const tag = unique('vip');
    const rule = { attribute: 'tag', op: 'eq', value: tag };

    expect(errorCodes(await create({ tag, name: 'VIP', kind: 'RULE', rule }, moderator.accessToken))).toEqual(
      ['FORBIDDEN'],
    );
    expect(errorCodes(await create({ tag: 'Not A Tag', name: 'x', kind: 'MANUAL' }))).toEqual([
      'BAD_USER_INPUT',
    ]);
    const badRule = { attribute: 'coins_bought', op: 'within_days', days: 3 };
    expect(errorCodes(await create({ tag, name: 'VIP', kind: 'RULE', rule: badRule }))).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect(errorCodes(await create({ tag, name: 'VIP', kind: 'RULE' }))).toEqual(['BAD_USER_INPUT']);

    // Preview: nobody has the tag yet; after setUserTags one user does.
    const empty = await gql<{ previewCohort: { count: number } }>(
      app.url,
      PREVIEW,
      { rule },
      {
        token: moderator.accessToken,
      },
    );
    expect(empty.data?.previewCohort.count).toBe(0);
    const set = await gql(
      app.url,
      SET_TAGS,
      { userId: tagged.userId, tags: [tag] },
      { token: admin.accessToken },
    );
    expect(set.data).toEqual({ setUserTags: [tag] });
    const preview = await gql<{ previewCohort: { count: number; sample: Array<{ userId: string }> } }>(
      app.url,
      PREVIEW,
      { rule },
      { token: admin.accessToken },
    );
    expect(preview.data?.previewCohort).toEqual({
      count: 1,
      sample: [{ userId: tagged.userId, displayName: null }],
    });

    const created = await create({ tag, name: 'VIP', kind: 'RULE', rule });
    expect(created.data?.createCohort).toMatchObject({ tag, memberCount: 1 });
    const id = created.data?.createCohort.id as string;
    expect(errorCodes(await create({ tag, name: 'Again', kind: 'MANUAL' }))).toEqual(['CONFLICT']);
    expect(await tagsOf(tagged.userId)).toContain(tag);

    // Removing the user tag takes the user out at once; deactivating hides the cohort's tag.
    await gql(app.url, SET_TAGS, { userId: tagged.userId, tags: [] }, { token: admin.accessToken });
    expect(await tagsOf(tagged.userId)).not.toContain(tag);
    const off = await gql<{ updateCohort: { active: boolean } }>(
      app.url,
      UPDATE,
      { id, patch: { active: false } },
      {
        token: admin.accessToken,
      },
    );
    expect(off.data?.updateCohort).toMatchObject({ active: false, memberCount: 0 });

    // Manual cohort: add, page through members, remove; not on a rule cohort.
    const manual = await create({ tag: unique('hand'), name: 'By hand', kind: 'MANUAL' });
    const manualId = manual.data?.createCohort.id as string;
    const three = [plain.userId, tagged.userId, moderator.userId];
    const added = await gql(app.url, ADD, { id: manualId, userIds: three }, { token: admin.accessToken });
    expect(added.data).toEqual({ addCohortMembers: 3 });
    expect(errorCodes(await gql(app.url, ADD, { id, userIds: three }, { token: admin.accessToken }))).toEqual(
      ['BAD_USER_INPUT'],
    );
    expect(
      errorCodes(
        await gql(app.url, ADD, { id: manualId, userIds: [randomUUID()] }, { token: admin.accessToken }),
      ),
    ).toEqual(['BAD_USER_INPUT']);
    type Page = {
      cohort: { memberCount: number; members: { items: Array<{ userId: string }>; nextCursor: string } };
    };
    const first = await gql<Page>(app.url, COHORT, { id: manualId }, { token: moderator.accessToken });
    expect(first.data?.cohort.memberCount).toBe(3);
    const second = await gql<Page>(
      app.url,
      COHORT,
      { id: manualId, after: first.data?.cohort.members.nextCursor },
      {
        token: moderator.accessToken,
      },
    );
    const paged = [...(first.data?.cohort.members.items ?? []), ...(second.data?.cohort.members.items ?? [])];
    expect(paged.map((m) => m.userId)).toEqual([...three].sort());
    expect(second.data?.cohort.members.nextCursor).toBeNull();
    const removed = await gql(
      app.url,
      REMOVE,
      { id: manualId, userIds: [plain.userId] },
      { token: admin.accessToken },
    );
    expect(removed.data).toEqual({ removeCohortMembers: 1 });
    const userTags = await gql(
      app.url,
      USER_TAGS,
      { userId: tagged.userId },
      { token: moderator.accessToken },
    );
    expect(userTags.data).toEqual({
      userPanelTags: { tags: [], cohortTags: [manual.data?.createCohort.tag] },
    });
    expect(
      errorCodes(await gql(app.url, USER_TAGS, { userId: tagged.userId }, { token: plain.accessToken })),
    ).toEqual(['FORBIDDEN']);

    const audit = await gql<{ auditLog: { items: Array<{ action: string; actorId: string }> } }>(
      app.url,
      AUDIT,
      { filter: { targetType: 'cohort', targetId: id } },
      { token: admin.accessToken },
    );
    expect(audit.data?.auditLog.items.map((i) => i.action).sort()).toEqual([
      'cohort.created',
      'cohort.updated',
    ]);
    expect(audit.data?.auditLog.items.every((i) => i.actorId === admin.userId)).toBe(true);
  });

  it('a cohort member gets the cohort tariff', async () => {
    const tag = unique('tariffed');
    const member = await app.signIn(['user']);
    const other = await app.signIn(['user']);
    const system = { principal: null, requestId: 'panel-test' };
    const schedule = (coins: number) => ({
      payer: { checkpoints: [{ second: 0, coins }], repeat: { everySeconds: 60, coins } },
      earner: { checkpoints: [{ second: 60, coins: 1 }], repeat: { everySeconds: 60, coins: 1 } },
    });
    await app.services.tariffs.setTariff(system, { kind: 'direct', cohort: null, tariff: schedule(10) });
    await app.services.tariffs.setTariff(system, { kind: 'direct', cohort: tag, tariff: schedule(3) });
    const manual = await create({ tag, name: 'Discount', kind: 'MANUAL' });
    await gql(
      app.url,
      ADD,
      { id: manual.data?.createCohort.id, userIds: [member.userId] },
      { token: admin.accessToken },
    );

    expect((await app.services.tariffs.resolveFor(member.userId, 'direct')).cohort).toBe(tag);
    expect((await app.services.tariffs.resolveFor(other.userId, 'direct')).cohort).toBe('');
  });
});
