import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';

const INFO = '{ serverInfo { version } }';

/** What a client reads from a 429. */
async function limited(response: Response) {
  const retryAfter = Number(response.headers.get('retry-after'));
  return { status: response.status, retryAfter, body: (await response.json()) as Record<string, unknown> };
}

const post = (app: TestApp, query: string, headers: Record<string, string> = {}) =>
  fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });

describe('request body limit', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ env: { HTTP_BODY_LIMIT_BYTES: '2048' } });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers 413 with a GraphQL-shaped BAD_REQUEST when the body is over HTTP_BODY_LIMIT_BYTES', async () => {
    const padding = 'x'.repeat(2048);
    const response = await post(app, `{ serverInfo { version } } # ${padding}`);
    expect(response.status).toBe(413);
    const body = (await response.json()) as { data: unknown; errors: Array<{ extensions: unknown }> };
    expect(body.data).toBeNull();
    expect(body.errors.map((e) => e.extensions)).toEqual([{ code: 'BAD_REQUEST' }]);
    expect((await post(app, `{ serverInfo { version } } # ${'x'.repeat(1900)}`)).status).toBe(200);
  });
});

describe('GraphQL cost limit over HTTP', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ env: { GRAPHQL_MAX_COMPLEXITY: '3' } });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('refuses an operation over GRAPHQL_MAX_COMPLEXITY with 400 and its cost in the message', async () => {
    expect((await gql(app.url, '{ serverInfo { version time } }')).errors).toBeUndefined();
    const response = await gql(app.url, '{ serverInfo { version time } __typename }');
    expect(response.status).toBe(400);
    expect(errorCodes(response)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(response.errors?.[0]?.message).toContain('cost 4 exceeds the limit of 3');
  });
});

describe('rate limit per IP', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ env: { RATE_LIMIT_PER_IP_PER_MINUTE: '3' } });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers 429 RATE_LIMITED with Retry-After once an anonymous client is over the limit', async () => {
    for (let i = 0; i < 3; i++) expect((await post(app, INFO)).status).toBe(200);
    const { status, retryAfter, body } = await limited(await post(app, INFO));
    expect(status).toBe(429);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(body).toEqual({
      data: null,
      errors: [
        { message: expect.any(String), extensions: { code: 'RATE_LIMITED', retryAfterSeconds: retryAfter } },
      ],
    });
  });

  it('refuses an anonymous client over the limit before reading its body', async () => {
    const response = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": "not even JSON',
    });
    expect(response.status).toBe(429);
  });

  it('answers other routes in their own error shape', async () => {
    const { status, retryAfter, body } = await limited(await fetch(`${app.url}/.well-known/jwks.json`));
    expect(status).toBe(429);
    expect(body).toEqual({
      error: {
        code: 'RATE_LIMITED',
        retryAfterSeconds: retryAfter,
        message: expect.any(String),
        requestId: expect.any(String),
      },
    });
  });

  it('never limits health, readiness and metrics', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      expect((await fetch(`${app.url}${path}`)).status).toBe(200);
    }
  });

  it('counts a signed-in client by its account, not its address', async () => {
    const tokens = await app.signIn();
    const response = await gql(app.url, '{ me { id } }', {}, { token: tokens.accessToken });
    expect(response.status).toBe(200);
    expect(response.data).toEqual({ me: { id: tokens.userId } });
  });
});

describe('rate limit per user', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({
      env: { RATE_LIMIT_PER_USER_PER_MINUTE: '2', RATE_LIMIT_PER_IP_PER_MINUTE: '100' },
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers 429 RATE_LIMITED to an account over RATE_LIMIT_PER_USER_PER_MINUTE, and only to it', async () => {
    const [alice, bob] = [await app.signIn(), await app.signIn()];
    const asAlice = { authorization: `Bearer ${alice.accessToken}` };
    for (let i = 0; i < 2; i++) expect((await post(app, INFO, asAlice)).status).toBe(200);
    const { status, retryAfter, body } = await limited(await post(app, INFO, asAlice));
    expect(status).toBe(429);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(body).toMatchObject({
      data: null,
      errors: [{ extensions: { code: 'RATE_LIMITED', retryAfterSeconds: retryAfter } }],
    });
    expect((await post(app, INFO, { authorization: `Bearer ${bob.accessToken}` })).status).toBe(200);
    expect((await post(app, INFO)).status).toBe(200);
  });
});

const redisUrl = process.env.TEST_REDIS_URL;

describe('rate limits shared through Redis', () => {
  // Needs a Redis server, which not every machine has: CI sets TEST_REDIS_URL where one runs.
  it.skipIf(!redisUrl)('counts one client across processes with REDIS_URL', async () => {
    const env = { REDIS_URL: redisUrl ?? '', TRUST_PROXY: 'true', RATE_LIMIT_PER_IP_PER_MINUTE: '2' };
    const [first, second] = await Promise.all([startTestApp({ env }), startTestApp({ env })]);
    try {
      // A fresh address per run: counters stay in Redis for a minute after the test.
      const client = { 'x-forwarded-for': `10.${randomInt(256)}.${randomInt(256)}.${randomInt(256)}` };
      expect((await post(first, INFO, client)).status).toBe(200);
      expect((await post(second, INFO, client)).status).toBe(200);
      const { status, body } = await limited(await post(first, INFO, client));
      expect(status).toBe(429);
      expect(body).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED' } }] });
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});
