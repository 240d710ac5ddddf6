import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';

describe('errors a client sees', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ env: { GRAPHQL_MAX_DEPTH: '3' } });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('reports a syntax error as GRAPHQL_VALIDATION_FAILED with status 400', async () => {
    const response = await gql(app.url, 'query { me { id ');
    expect(response.status).toBe(400);
    expect(errorCodes(response)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('reports an unknown field as GRAPHQL_VALIDATION_FAILED', async () => {
    const response = await gql(app.url, 'query { nothingHere }');
    expect(errorCodes(response)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('reports a variable of the wrong type as BAD_USER_INPUT', async () => {
    const response = await gql(
      app.url,
      'mutation($p: String!) { requestPhoneCode(phone: $p) { expiresAt } }',
      {
        p: 42,
      },
    );
    expect(errorCodes(response)).toEqual(['BAD_USER_INPUT']);
  });

  it('reports a missing required variable as BAD_USER_INPUT', async () => {
    const response = await gql(
      app.url,
      'mutation($p: String!) { requestPhoneCode(phone: $p) { expiresAt } }',
    );
    expect(errorCodes(response)).toEqual(['BAD_USER_INPUT']);
  });

  it('reports a malformed JSON body as BAD_REQUEST with status 400', async () => {
    const response = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": "{ serverInfo { version } }"',
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: Array<{ extensions: { code: string } }> };
    expect(body.errors.map((e) => e.extensions.code)).toEqual(['BAD_REQUEST']);
  });

  it('refuses a mutation sent with GET (405)', async () => {
    const query = encodeURIComponent('mutation { signOut }');
    const response = await fetch(`${app.url}/graphql?query=${query}`);
    expect(response.status).toBe(405);
    const body = (await response.json()) as { errors: Array<{ extensions: { code: string } }> };
    expect(body.errors.map((e) => e.extensions.code)).toEqual(['BAD_REQUEST']);
  });

  it('reports an unused variable as GRAPHQL_VALIDATION_FAILED, not as bad input', async () => {
    const response = await gql(app.url, 'query($unused: Int) { serverInfo { version } }', { unused: 1 });
    expect(response.status).toBe(400);
    expect(errorCodes(response)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('refuses queries deeper than the limit', async () => {
    const response = await gql(app.url, 'query { serverInfo { version } }');
    expect(response.errors).toBeUndefined();
    const schemaDeep = await gql(app.url, 'query { __schema { types { fields { type { name } } } } }');
    expect(errorCodes(schemaDeep)).toContain('GRAPHQL_VALIDATION_FAILED');
  });

  it('hides internal failures: no SQL, no stack, a request id to quote', async () => {
    // Break the database under a real resolver: the SMS outbox table disappears.
    await sql`drop table "user".sms_outbox`.execute(app.database.handle.db);
    const response = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'support-ticket-42' },
      body: JSON.stringify({ query: 'mutation { requestPhoneCode(phone: "+4915199999999") { expiresAt } }' }),
    });
    const text = await response.text();
    expect(response.headers.get('x-request-id')).toBe('support-ticket-42');
    const body = JSON.parse(text) as {
      errors: Array<{ message: string; extensions: Record<string, unknown> }>;
    };
    expect(body.errors[0]).toMatchObject({
      message: 'Internal server error',
      extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'support-ticket-42' },
    });
    expect(text).not.toMatch(/sms_outbox|relation|stack|at .*\.ts/);
  });

  it('gives every response a request id', async () => {
    const response = await fetch(`${app.url}/healthz`);
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
