import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { gql, wsClient } from '../../../test/graphql-client.ts';
import { WS_CLOSE } from './websocket.ts';

const CLOCK = 'subscription { serverClock(intervalMs: 100) }';

async function take(
  client: ReturnType<typeof wsClient>['client'],
  query: string,
  count: number,
  onFirst: () => void = () => {},
): Promise<{ values: unknown[]; errors: unknown[] }> {
  const values: unknown[] = [];
  const errors: unknown[] = [];
  await new Promise<void>((resolve) => {
    const dispose = client.subscribe(
      { query },
      {
        next: (value) => {
          if (value.errors) errors.push(...value.errors);
          else values.push(value.data);
          if (values.length === 1) onFirst();
          if (values.length >= count) {
            dispose();
            resolve();
          }
        },
        error: (error) => {
          errors.push(error);
          resolve();
        },
        complete: () => resolve(),
      },
    );
  });
  return { values, errors };
}

const waitForClose = async (closes: Array<{ code: number }>) => {
  for (let i = 0; i < 400 && closes.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  return closes[0];
};

describe('GraphQL over WebSocket', () => {
  let app: TestApp;

  beforeAll(async () => {
    // Long enough that no token here runs out mid-test on a loaded machine; expiry has its own app below.
    app = await startTestApp({ env: { AUTH_ACCESS_TOKEN_TTL_SECONDS: '300' } });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('authenticates in connection_init and streams a subscription', async () => {
    const tokens = await app.signIn();
    const { client } = wsClient(app.wsUrl, { authorization: `Bearer ${tokens.accessToken}` });
    const result = await take(client, CLOCK, 2);
    expect(result.errors).toEqual([]);
    expect(result.values).toHaveLength(2);
    await client.dispose();
  });

  it('runs queries over the socket as the authenticated principal', async () => {
    const tokens = await app.signIn(['user', 'streamer']);
    const { client } = wsClient(app.wsUrl, { headers: { Authorization: `Bearer ${tokens.accessToken}` } });
    const result = await take(client, 'query { me { id activeRole } }', 1);
    expect(result.values).toEqual([{ me: { id: tokens.userId, activeRole: 'streamer' } }]);
    await client.dispose();
  });

  it('refuses a signed-in subscription on an anonymous connection', async () => {
    const { client } = wsClient(app.wsUrl);
    const result = await take(client, CLOCK, 1);
    expect(result.values).toEqual([]);
    expect(JSON.stringify(result.errors)).toContain('UNAUTHENTICATED');
    await client.dispose();
  });

  it('answers 404 to an upgrade on any other path', async () => {
    const status = await new Promise<number | undefined>((resolve) => {
      const socket = new WebSocket(app.wsUrl.replace('/graphql', '/elsewhere'), 'graphql-transport-ws');
      socket.on('unexpected-response', (_request, response) => resolve(response.statusCode));
      socket.on('error', () => resolve(undefined));
    });
    expect(status).toBe(404);
  });

  it('closes with 4401 when connection_init carries a bad token', async () => {
    const { client, closes } = wsClient(app.wsUrl, { authorization: 'Bearer not.a.token' });
    await take(client, CLOCK, 1);
    expect((await waitForClose(closes))?.code).toBe(WS_CLOSE.unauthenticated);
    await client.dispose();
  });

  it('closes with 4403 when the requested role is not allowed', async () => {
    const tokens = await app.signIn();
    const { client, closes } = wsClient(app.wsUrl, {
      authorization: `Bearer ${tokens.accessToken}`,
      'x-hasura-role': 'admin',
    });
    await take(client, CLOCK, 1);
    expect((await waitForClose(closes))?.code).toBe(WS_CLOSE.forbidden);
    await client.dispose();
  });

  it('closes with 4401 when the session signs out', async () => {
    const tokens = await app.signIn();
    const { client, closes } = wsClient(app.wsUrl, { authorization: `Bearer ${tokens.accessToken}` });
    let streaming: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      streaming = resolve;
    });
    const running = take(client, CLOCK, 1_000_000, () => streaming());
    await started;
    await gql(app.url, 'mutation { signOut }', {}, { token: tokens.accessToken });
    const closed = await waitForClose(closes);
    expect(closed).toMatchObject({ code: WS_CLOSE.unauthenticated, reason: 'Session signed out' });
    await running;
    await client.dispose();
  });
});

describe('GraphQL over WebSocket with short-lived tokens', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ env: { AUTH_ACCESS_TOKEN_TTL_SECONDS: '2' } });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('closes with 4401 when the token expires', async () => {
    const tokens = await app.signIn();
    const { client, closes } = wsClient(app.wsUrl, { authorization: `Bearer ${tokens.accessToken}` });
    const running = take(client, CLOCK, 1_000_000);
    const closed = await waitForClose(closes);
    expect(closed).toMatchObject({ code: WS_CLOSE.unauthenticated, reason: 'Token expired' });
    await running;
    await client.dispose();
  });
});
