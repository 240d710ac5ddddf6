import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../../test/app.ts';
import { errorCodes, gql, wsClient } from '../../../../test/graphql-client.ts';
import { manualClock } from '../../../platform/clock.ts';
import { createLogger } from '../../../platform/observability/logger.ts';
import { PresenceRepository } from './presence.repository.ts';
import { PresenceService } from './presence.service.ts';
import { PRESENCE_CHANNEL, type PresenceMessage } from './presence.ts';

const logger = createLogger({ logLevel: 'silent', env: 'test' });
const PRESENCE =
  'query($ids: [ID!]!) { presence(userIds: $ids) { userId online onlineSince lastSeenAt availability } }';
const SET_AVAILABILITY =
  'mutation($a: Availability!) { setMyAvailability(availability: $a) { userId online availability } }';

type Client = ReturnType<typeof wsClient>['client'];

/** Polls until `done` holds (bounded by attempts, not by a duration the test asserts). */
async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  attempts = 200,
): Promise<T> {
  let value = await read();
  for (let i = 0; i < attempts && !done(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    value = await read();
  }
  return value;
}

describe('presence', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  /** An authenticated socket held open by a subscription, like a client app's. */
  function connect(accessToken: string): Client {
    const { client } = wsClient(app.wsUrl, { authorization: `Bearer ${accessToken}` });
    client.subscribe(
      { query: 'subscription { serverClock(intervalMs: 60000) }' },
      { next: () => {}, error: () => {}, complete: () => {} },
    );
    return client;
  }

  const connectionCount = async (userId: string) =>
    (
      await app.database.handle.db
        .selectFrom('presence.connections')
        .select('connection_id')
        .where('user_id', '=', userId)
        .execute()
    ).length;

  const eventTypes = async (userId: string) =>
    (
      await app.database.handle.db
        .selectFrom('event_log.events')
        .select('type')
        .where('user_id', '=', userId)
        .where('type', 'in', ['user_came_online', 'user_went_offline', 'user_availability_changed'])
        .orderBy('occurred_at')
        .execute()
    ).map((e) => e.type);

  it('stays online while one of two sockets is open, goes offline after both, one event per transition', async () => {
    const user = await app.signIn();
    expect(await app.services.presence.isOnline(user.userId)).toBe(false);

    const first = connect(user.accessToken);
    const second = connect(user.accessToken);
    expect(
      await eventually(
        () => connectionCount(user.userId),
        (n) => n === 2,
      ),
    ).toBe(2);
    expect(await app.services.presence.isOnline(user.userId)).toBe(true);

    await first.dispose();
    expect(
      await eventually(
        () => connectionCount(user.userId),
        (n) => n === 1,
      ),
    ).toBe(1);
    expect(await app.services.presence.isOnline(user.userId)).toBe(true);

    await second.dispose();
    expect(
      await eventually(
        () => app.services.presence.isOnline(user.userId),
        (online) => !online,
      ),
    ).toBe(false);
    expect(await connectionCount(user.userId)).toBe(0);
    expect(await eventTypes(user.userId)).toEqual(['user_came_online', 'user_went_offline']);

    const [read] = await app.services.presence.getPresence([user.userId]);
    expect(read).toMatchObject({ online: false, onlineSince: null });
    expect(read?.lastSeenAt).toBeInstanceOf(Date);
  });

  it('answers presence(userIds) to signed-in accounts, validating the ids', async () => {
    const user = await app.signIn();
    const unknown = randomUUID();
    const ok = await gql<{ presence: unknown[] }>(
      app.url,
      PRESENCE,
      { ids: [unknown, unknown] },
      { token: user.accessToken },
    );
    expect(ok.data?.presence).toEqual([
      { userId: unknown, online: false, onlineSince: null, lastSeenAt: null, availability: 'away' },
    ]);

    const anonymous = await gql(app.url, PRESENCE, { ids: [unknown] });
    expect(errorCodes(anonymous)).toEqual(['UNAUTHENTICATED']);
    const notAnId = await gql(app.url, PRESENCE, { ids: ['nope'] }, { token: user.accessToken });
    expect(errorCodes(notAnId)).toEqual(['BAD_USER_INPUT']);
    const tooMany = await gql(
      app.url,
      PRESENCE,
      { ids: Array.from({ length: 201 }, () => randomUUID()) },
      { token: user.accessToken },
    );
    expect(errorCodes(tooMany)).toEqual(['BAD_USER_INPUT']);
  });

  it('tells presenceChanged subscribers when a watched account comes online and goes offline', async () => {
    const watcher = await app.signIn();
    const target = await app.signIn();
    const other = await app.signIn();
    const probeId = randomUUID();
    const received: PresenceMessage[] = [];
    const { client } = wsClient(app.wsUrl, { authorization: `Bearer ${watcher.accessToken}` });
    client.subscribe(
      {
        query:
          'subscription($ids: [ID!]!) { presenceChanged(userIds: $ids) { userId online onlineSince availability } }',
        variables: { ids: [target.userId, probeId] },
      },
      {
        next: (value) => {
          const change = (value.data as { presenceChanged?: PresenceMessage } | undefined)?.presenceChanged;
          if (change) received.push(change);
        },
        error: () => {},
        complete: () => {},
      },
    );
    // The subscription registers asynchronously and nothing is replayed: probe until it hears one.
    const probe = {
      userId: probeId,
      online: false,
      onlineSince: null,
      lastSeenAt: null,
      availability: 'away',
    };
    for (let i = 0; i < 200 && received.length === 0; i++) {
      await app.services.pubsub.publish(PRESENCE_CHANNEL, probe);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(received[0]?.userId).toBe(probeId);
    received.length = 0;

    // A change of an account nobody watches here is not delivered (it commits first, so it would arrive first).
    const otherSocket = connect(other.accessToken);
    await eventually(() => app.services.presence.isOnline(other.userId), Boolean);
    const targetSocket = connect(target.accessToken);
    await eventually(
      async () => received.length,
      (n) => n >= 1,
    );
    expect(received[0]).toMatchObject({ userId: target.userId, online: true, availability: 'available' });

    await targetSocket.dispose();
    await eventually(
      async () => received.length,
      (n) => n >= 2,
    );
    expect(received[1]).toMatchObject({ userId: target.userId, online: false, onlineSince: null });
    expect(received.every((r) => r.userId === target.userId)).toBe(true);
    await otherSocket.dispose();
    await client.dispose();
  });

  it('refuses a watch list over 200 accounts', async () => {
    const watcher = await app.signIn();
    const { client } = wsClient(app.wsUrl, { authorization: `Bearer ${watcher.accessToken}` });
    const outcome = await new Promise<unknown>((resolve) => {
      client.subscribe(
        {
          query: 'subscription($ids: [ID!]!) { presenceChanged(userIds: $ids) { userId } }',
          variables: { ids: Array.from({ length: 201 }, () => randomUUID()) },
        },
        { next: (value) => resolve(value.errors), error: resolve, complete: () => resolve(undefined) },
      );
    });
    expect(JSON.stringify(outcome)).toContain('BAD_USER_INPUT');
    await client.dispose();
  });

  it('lets only streamers set their availability; an offline streamer is never available', async () => {
    const user = await app.signIn(['user']);
    const denied = await gql(app.url, SET_AVAILABILITY, { a: 'busy' }, { token: user.accessToken });
    expect(errorCodes(denied)).toEqual(['FORBIDDEN']);
    expect(await eventTypes(user.userId)).toEqual([]);

    const streamer = await app.signIn(['streamer']);
    const read = async () =>
      (
        await gql<{ presence: Array<{ availability: string; online: boolean }> }>(
          app.url,
          PRESENCE,
          { ids: [streamer.userId] },
          { token: user.accessToken },
        )
      ).data?.presence[0];

    const set = await gql(app.url, SET_AVAILABILITY, { a: 'available' }, { token: streamer.accessToken });
    expect(set.data).toEqual({
      setMyAvailability: { userId: streamer.userId, online: false, availability: 'away' },
    });
    expect(await app.services.presence.isAvailableForCalls(streamer.userId)).toBe(false);

    const socket = connect(streamer.accessToken);
    expect(await eventually(read, (p) => p?.online === true)).toMatchObject({
      online: true,
      availability: 'available',
    });
    expect(await app.services.presence.isAvailableForCalls(streamer.userId)).toBe(true);

    // The calls domain's entry point: busy while in a call, whoever asks.
    await app.services.presence.setAvailability(streamer.userId, 'busy');
    await app.services.presence.setAvailability(streamer.userId, 'busy');
    expect(await read()).toMatchObject({ online: true, availability: 'busy' });
    expect(await app.services.presence.isAvailableForCalls(streamer.userId)).toBe(false);

    // Going offline keeps the setting; back to available while offline still reads away.
    await socket.dispose();
    expect(await eventually(read, (p) => p?.online === false)).toMatchObject({
      online: false,
      availability: 'busy',
    });
    await app.services.presence.setAvailability(streamer.userId, 'available');
    expect(await read()).toMatchObject({ online: false, availability: 'away' });

    expect(await eventTypes(streamer.userId)).toEqual([
      'user_came_online',
      'user_availability_changed',
      'user_went_offline',
      'user_availability_changed',
    ]);
  });

  it("the sweep takes a silent node's users offline, and leaves live nodes alone", async () => {
    const repo = new PresenceRepository(app.database.handle.db);
    const clock = manualClock(new Date(Date.now() - 120_000));
    // Another node, whose last heartbeat was two minutes ago: it died without a goodbye.
    const ghost = new PresenceService({
      repo,
      events: app.services.eventLog,
      clock,
      logger,
      settings: { heartbeatSeconds: 10, ttlSeconds: 30 },
    });
    await repo.upsertNode(ghost.nodeId, clock.now());
    const stranded = await app.signIn();
    ghost.connectionChanged({ type: 'opened', connectionId: randomUUID(), userId: stranded.userId });
    await ghost.settled();
    expect(await app.services.presence.isOnline(stranded.userId)).toBe(true);

    const alive = await app.signIn();
    const socket = connect(alive.accessToken);
    await eventually(() => app.services.presence.isOnline(alive.userId), Boolean);

    const swept = await app.services.presence.sweep();
    expect(swept.nodes).toBeGreaterThanOrEqual(1);
    expect(await app.services.presence.isOnline(stranded.userId)).toBe(false);
    expect(await app.services.presence.isOnline(alive.userId)).toBe(true);
    const offline = await app.database.handle.db
      .selectFrom('event_log.events')
      .select('payload')
      .where('user_id', '=', stranded.userId)
      .where('type', '=', 'user_went_offline')
      .execute();
    expect(offline.map((e) => e.payload)).toEqual([expect.objectContaining({ reason: 'node_expired' })]);

    // A second sweep finds nothing more to do and emits nothing again.
    await app.services.presence.sweep();
    expect(await eventTypes(stranded.userId)).toEqual(['user_came_online', 'user_went_offline']);
    await socket.dispose();
  });
});

describe('presence of a node that was swept while still alive', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ env: { PRESENCE_HEARTBEAT_SECONDS: '1', PRESENCE_TTL_SECONDS: '3' } });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('registers again at its next heartbeat and records its open sockets again', async () => {
    const user = await app.signIn();
    const { client } = wsClient(app.wsUrl, { authorization: `Bearer ${user.accessToken}` });
    client.subscribe(
      { query: 'subscription { serverClock(intervalMs: 60000) }' },
      { next: () => {}, error: () => {}, complete: () => {} },
    );
    expect(await eventually(() => app.services.presence.isOnline(user.userId), Boolean)).toBe(true);

    // As if another node's sweep had taken this one for dead (a long pause): its row disappears.
    // A heartbeat landing between the delete and the sweep re-registers it first; then try again.
    let swept = 0;
    for (let attempt = 0; attempt < 20 && swept === 0; attempt++) {
      await app.database.handle.db
        .deleteFrom('presence.nodes')
        .where('node_id', '=', app.services.presence.nodeId)
        .execute();
      swept = (await app.services.presence.sweep()).wentOffline;
    }
    expect(swept).toBe(1);
    expect(await app.services.presence.isOnline(user.userId)).toBe(false);

    expect(await eventually(() => app.services.presence.isOnline(user.userId), Boolean, 400)).toBe(true);
    const types = await app.database.handle.db
      .selectFrom('event_log.events')
      .select('type')
      .where('user_id', '=', user.userId)
      .where('type', 'in', ['user_came_online', 'user_went_offline'])
      .orderBy('occurred_at')
      .execute();
    expect(types.map((t) => t.type)).toEqual(['user_came_online', 'user_went_offline', 'user_came_online']);
    await client.dispose();
  });
});
