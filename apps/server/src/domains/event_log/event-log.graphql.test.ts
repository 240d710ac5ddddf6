import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { manualClock } from '../../platform/clock.ts';
import { userSignUp } from '../user/user.events.ts';
import { waitFor } from './event-log.test-support.ts';

const EVENTS = `query($filter: LoggedEventFilter, $first: Int, $after: String) {
  events(filter: $filter, first: $first, after: $after) {
    items { id position type version payload userId occurredAt }
    nextCursor
  }
}`;
const CONSUMERS = 'query { eventConsumers { name status cursor lag attempts lastError registeredHere } }';
const DEAD_LETTERS = `query($consumer: String, $resolved: Boolean) {
  deadLetters(consumer: $consumer, resolved: $resolved) {
    items { id consumer error attempts retries resolvedAt event { type payload userId } }
    nextCursor
  }
}`;
const RETRY = 'mutation($id: ID!) { retryDeadLetter(id: $id) { id error retries resolvedAt } }';
const RESUME = 'mutation($name: String!) { resumeEventConsumer(name: $name) { name status attempts } }';

type EventsData = {
  events: {
    items: Array<{ id: string; position: string; type: string; payload: unknown; userId: string | null }>;
    nextCursor: string | null;
  };
};
type DeadLettersData = {
  deadLetters: {
    items: Array<{ id: string; error: string; resolvedAt: string | null; event: { userId: string } }>;
  };
};
type ConsumersData = {
  eventConsumers: Array<{ name: string; status: string; lag: string; lastError: string | null }>;
};

describe('event log admin API', () => {
  let app: TestApp;
  let admin: string;
  const clock = manualClock(new Date());
  const start = clock.now().getTime();

  beforeAll(async () => {
    app = await startTestApp({ clock });
    admin = (await app.signIn(['user', 'admin'])).accessToken;
  });
  afterAll(async () => {
    await app?.close();
  });

  const asAdmin = <T>(query: string, variables: Record<string, unknown> = {}) =>
    gql<T>(app.url, query, variables, { token: admin });

  it('is for admins only', async () => {
    const operations: Array<[string, Record<string, unknown>]> = [
      [EVENTS, {}],
      [CONSUMERS, {}],
      [DEAD_LETTERS, {}],
      [RETRY, { id: '1' }],
      [RESUME, { name: 'anything' }],
    ];
    for (const [query, variables] of operations) {
      expect(errorCodes(await gql(app.url, query, variables)), query).toEqual(['UNAUTHENTICATED']);
      for (const role of ['user', 'streamer', 'moderator'] as const) {
        const token = (await app.signIn([role])).accessToken;
        expect(errorCodes(await gql(app.url, query, variables, { token })), `${role}: ${query}`).toEqual([
          'FORBIDDEN',
        ]);
      }
    }
    expect((await asAdmin(EVENTS)).errors).toBeUndefined();
    expect((await asAdmin(CONSUMERS)).errors).toBeUndefined();
  });

  it('lists events newest first, filtered by type, user and time, page by page', async () => {
    clock.set(new Date(start + 60 * 60_000));
    const first = await app.services.accounts.createOloAccount(['user']);
    clock.set(new Date(start + 70 * 60_000));
    const second = await app.services.accounts.createOloAccount(['user']);
    clock.set(new Date(start + 80 * 60_000));
    const third = await app.services.accounts.createOloAccount(['user']);
    // Tokens expire by the same clock: a fresh admin session (its own sign-up is outside the windows).
    clock.set(new Date(start + 90 * 60_000));
    admin = (await app.signIn(['user', 'admin'])).accessToken;

    const byUser = await asAdmin<EventsData>(EVENTS, { filter: { type: 'user_sign_up', userId: second.id } });
    expect(byUser.errors).toBeUndefined();
    expect(byUser.data?.events.items).toEqual([
      expect.objectContaining({
        type: 'user_sign_up',
        userId: second.id,
        payload: { userId: second.id, method: 'email' },
      }),
    ]);

    const window = await asAdmin<EventsData>(EVENTS, {
      filter: {
        from: new Date(start + 65 * 60_000).toISOString(),
        to: new Date(start + 80 * 60_000).toISOString(),
      },
    });
    expect(window.data?.events.items.map((e) => e.userId)).toEqual([second.id]);

    const pages: string[] = [];
    let after: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof asAdmin<EventsData>>> = await asAdmin<EventsData>(EVENTS, {
        filter: {
          from: new Date(start + 60 * 60_000).toISOString(),
          to: new Date(start + 85 * 60_000).toISOString(),
        },
        first: 2,
        after,
      });
      expect(page.errors).toBeUndefined();
      pages.push(...(page.data?.events.items.map((e) => e.userId ?? '') ?? []));
      after = page.data?.events.nextCursor ?? null;
    } while (after);
    expect(pages).toEqual([third.id, second.id, first.id]);

    expect(errorCodes(await asAdmin(EVENTS, { first: 0 }))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await asAdmin(EVENTS, { first: 101 }))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await asAdmin(EVENTS, { after: 'not-a-cursor' }))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await asAdmin(EVENTS, { filter: { userId: 'someone' } }))).toEqual(['BAD_USER_INPUT']);
  });

  it('shows consumers and their dead letters; an admin retries a letter and resumes the consumer', async () => {
    const name = 'graphql_watch';
    let broken = true;
    const handled: string[] = [];
    app.services.eventLog.registerConsumer({
      name,
      types: [userSignUp.type],
      onExhausted: 'stop',
      maxAttempts: 1,
      startFrom: 'now',
      handler: async (event) => {
        if (!userSignUp.matches(event)) return;
        if (broken) throw new Error(`cannot welcome ${event.payload.userId}`);
        handled.push(event.payload.userId);
      },
    });
    await waitFor(
      async () =>
        (await asAdmin<ConsumersData>(CONSUMERS)).data?.eventConsumers.some((c) => c.name === name) ?? false,
      'the consumer to be registered',
    );
    const victim = await app.services.accounts.createOloAccount(['user']);
    let letters: DeadLettersData['deadLetters']['items'] = [];
    await waitFor(async () => {
      letters =
        (await asAdmin<DeadLettersData>(DEAD_LETTERS, { consumer: name })).data?.deadLetters.items ?? [];
      return letters.length > 0;
    }, 'the dead letter');
    expect(letters[0]).toMatchObject({ error: `cannot welcome ${victim.id}`, resolvedAt: null });
    expect(letters[0]?.event.userId).toBe(victim.id);
    const consumer = (await asAdmin<ConsumersData>(CONSUMERS)).data?.eventConsumers.find(
      (c) => c.name === name,
    );
    expect(consumer).toMatchObject({ status: 'stopped', lastError: `cannot welcome ${victim.id}` });

    const id = letters[0]?.id;
    const stillBroken = await asAdmin<{ retryDeadLetter: { resolvedAt: string | null; retries: number } }>(
      RETRY,
      {
        id,
      },
    );
    expect(stillBroken.data?.retryDeadLetter).toMatchObject({ resolvedAt: null, retries: 1 });
    broken = false;
    const fixed = await asAdmin<{ retryDeadLetter: { resolvedAt: string | null } }>(RETRY, { id });
    expect(fixed.data?.retryDeadLetter.resolvedAt).not.toBeNull();
    expect(handled).toEqual([victim.id]);
    expect(
      (await asAdmin<DeadLettersData>(DEAD_LETTERS, { consumer: name, resolved: false })).data?.deadLetters
        .items,
    ).toEqual([]);
    expect(errorCodes(await asAdmin(RETRY, { id: '999999' }))).toEqual(['NOT_FOUND']);

    const resumed = await asAdmin<{ resumeEventConsumer: { status: string } }>(RESUME, { name });
    expect(resumed.data?.resumeEventConsumer.status).toBe('running');
    const next = await app.services.accounts.createOloAccount(['user']);
    await waitFor(async () => handled.includes(next.id), 'the resumed consumer to handle the next sign-up');
    expect(handled).toEqual([victim.id, next.id]);
    expect(errorCodes(await asAdmin(RESUME, { name: 'no_such_consumer' }))).toEqual(['NOT_FOUND']);
  });
});
