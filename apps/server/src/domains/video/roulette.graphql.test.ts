import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql, wsClient } from '../../../test/graphql-client.ts';
import { waitFor } from '../timetable/testing.ts';
import { type CallChannelMessage, callChannel } from './call-party.ts';
import { callPeople, VIDEO_TEST_ENV } from './video.test-support.ts';

const STATUS_FIELDS =
  'state side waitingSince widensAt preferences { language country } call { id kind state callerId calleeId }';
const JOIN = `mutation($p: RoulettePreferencesInput) { joinRoulette(preferences: $p) { ${STATUS_FIELDS} } }`;
const NEXT = `mutation { rouletteNext { ${STATUS_FIELDS} } }`;
const HEARTBEAT = `mutation { rouletteHeartbeat { ${STATUS_FIELDS} } }`;
const LEAVE = `mutation { leaveRoulette { ${STATUS_FIELDS} } }`;
const STATUS = `query { myRouletteStatus { ${STATUS_FIELDS} } }`;
const UPDATES = 'subscription { myCallUpdates { call { id kind state } signal { payload } } }';

type Status = {
  state: string;
  side: string | null;
  call: { id: string; kind: string; callerId: string } | null;
};
type Update = {
  call: { id: string; kind: string; state: string } | null;
  signal: { payload: string } | null;
};

describe('roulette over GraphQL', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ env: VIDEO_TEST_ENV });
    await app.services.jobs.start();
  });
  afterAll(async () => {
    await app?.close();
  });

  /** myCallUpdates for an account, ready once a probe published on its channel came through. */
  async function callUpdates(userId: string, accessToken: string) {
    const { client } = wsClient(app.wsUrl, { authorization: `Bearer ${accessToken}` });
    const received: Update[] = [];
    client.subscribe(
      { query: UPDATES },
      {
        next: (value) => {
          const update = (value.data as { myCallUpdates?: Update } | undefined)?.myCallUpdates;
          if (update) received.push(update);
        },
        error: () => {},
        complete: () => {},
      },
    );
    const probe: CallChannelMessage = {
      type: 'signal',
      callId: randomUUID(),
      from: 'caller',
      kind: 'offer',
      payload: 'probe',
    };
    await waitFor('the subscription to be live', async () => {
      await app.services.pubsub.publish(callChannel(userId), probe);
      await new Promise((resolve) => setTimeout(resolve, 25));
      return received.some((u) => u.signal?.payload === 'probe');
    });
    return { client, received };
  }

  it('joins, matches through the pool, delivers the call on myCallUpdates, goes next and leaves', async () => {
    const people = callPeople(app);
    const user = await app.signIn(['user']);
    await people.fund(user.userId, 1000n);
    const streamer = await app.signIn(['streamer']);
    const userSide = await callUpdates(user.userId, user.accessToken);
    const streamerSide = await callUpdates(streamer.userId, streamer.accessToken);
    await waitFor('the streamer to be available', () =>
      app.services.presence.isAvailableForCalls(streamer.userId),
    );
    const as = (tokens: { accessToken: string }) => ({ token: tokens.accessToken });

    expect(errorCodes(await gql(app.url, JOIN, { p: { country: 'de' } }, as(user)))).toEqual([
      'BAD_USER_INPUT',
    ]);
    const waiting = await gql<{ joinRoulette: Status }>(app.url, JOIN, { p: {} }, as(user));
    expect(waiting.data?.joinRoulette).toMatchObject({ state: 'WAITING', side: 'USER', call: null });
    const status = await gql<{ myRouletteStatus: Status }>(app.url, STATUS, {}, as(user));
    expect(status.data?.myRouletteStatus.state).toBe('WAITING');

    const matched = await gql<{ joinRoulette: Status }>(app.url, JOIN, {}, as(streamer));
    expect(matched.data?.joinRoulette).toMatchObject({ state: 'MATCHED', side: 'STREAMER' });
    const call = matched.data?.joinRoulette.call;
    expect(call).toMatchObject({ kind: 'ROULETTE', state: 'CONNECTING', callerId: user.userId });
    for (const side of [userSide, streamerSide]) {
      await waitFor('the match on myCallUpdates', () => side.received.some((u) => u.call?.id === call?.id));
      expect(side.received.find((u) => u.call?.id === call?.id)?.call?.kind).toBe('ROULETTE');
    }

    const next = await gql<{ rouletteNext: Status }>(app.url, NEXT, {}, as(user));
    expect(next.data?.rouletteNext).toMatchObject({ state: 'WAITING', call: null });
    await waitFor('the end on myCallUpdates', () =>
      streamerSide.received.some((u) => u.call?.id === call?.id && u.call?.state === 'ENDED'),
    );
    const beat = await gql<{ rouletteHeartbeat: Status }>(app.url, HEARTBEAT, {}, as(user));
    expect(beat.data?.rouletteHeartbeat.state).toBe('WAITING');
    const left = await gql<{ leaveRoulette: Status }>(app.url, LEAVE, {}, as(user));
    expect(left.data?.leaveRoulette.state).toBe('IDLE');
    await userSide.client.dispose();
    await streamerSide.client.dispose();
  });

  it('refuses anonymous callers', async () => {
    for (const query of [JOIN, NEXT, HEARTBEAT, LEAVE, STATUS]) {
      expect(errorCodes(await gql(app.url, query)), query).toEqual(['UNAUTHENTICATED']);
    }
  });
});
