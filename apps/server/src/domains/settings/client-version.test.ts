import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { gql, wsClient } from '../../../test/graphql-client.ts';
import { onlyReadsSettings } from './client-version-gate.ts';
import { compareSemver } from './semver.ts';

type WsResult = { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

/** One query over a fresh graphql-transport-ws connection with these connection_init params. */
async function overWebSocket(url: string, params: Record<string, unknown>, query: string): Promise<WsResult> {
  const { client } = wsClient(url, params);
  try {
    return await new Promise<WsResult>((resolve) => {
      let last: WsResult = {};
      client.subscribe(
        { query },
        {
          next: (value) => {
            last = value as WsResult;
          },
          error: (error) =>
            resolve({ errors: (Array.isArray(error) ? error : [error]) as WsResult['errors'] }),
          complete: () => resolve(last),
        },
      );
    });
  } finally {
    await client.dispose();
  }
}

const ME = 'query { me { id } }';
const SETTINGS = 'query { settings { key value } }';

describe('UPDATE_REQUIRED for outdated clients', () => {
  let app: TestApp;
  let token: string;

  beforeAll(async () => {
    app = await startTestApp();
    const admin = await app.signIn(['admin']);
    const set = await gql(
      app.url,
      'mutation($v: JSON!) { setSetting(key: "app.min_version.ios", value: $v, reason: "drop 1.x") { version } }',
      { v: '2.0.0' },
      { token: admin.accessToken },
    );
    expect(set.errors).toBeUndefined();
    token = (await app.signIn()).accessToken;
  });
  afterAll(async () => {
    await app?.close();
  });

  const outdated = { 'x-client-platform': 'ios', 'x-client-version': '1.9.9' };
  const current = { 'x-client-platform': 'ios', 'x-client-version': '2.0.0' };

  it('refuses every operation of an outdated client over HTTP, naming the minimum version', async () => {
    const response = await gql(app.url, ME, {}, { token, headers: outdated });
    expect(response.data).toBeNull();
    expect(response.errors?.[0]?.extensions).toEqual({
      code: 'UPDATE_REQUIRED',
      platform: 'ios',
      minimumVersion: '2.0.0',
    });
    const mutation = await gql(app.url, 'mutation { signOut }', {}, { token, headers: outdated });
    expect(mutation.errors?.[0]?.extensions?.code).toBe('UPDATE_REQUIRED');
  });

  it('lets an outdated client read settings over HTTP, so it can show the update screen', async () => {
    const response = await gql<{ settings: Array<{ key: string; value: unknown }> }>(
      app.url,
      SETTINGS,
      {},
      {
        headers: outdated,
      },
    );
    expect(response.errors).toBeUndefined();
    expect(response.data?.settings.find((s) => s.key === 'app.min_version.ios')?.value).toBe('2.0.0');
  });

  it('lets a current client and a client without version headers through over HTTP', async () => {
    for (const headers of [current, { 'x-client-platform': 'ios', 'x-client-version': '10.0.0' }, {}]) {
      const response = await gql(app.url, ME, {}, { token, headers });
      expect(response.errors, JSON.stringify(headers)).toBeUndefined();
    }
    // Another platform's minimum does not apply.
    const android = await gql(
      app.url,
      ME,
      {},
      {
        token,
        headers: { 'x-client-platform': 'android', 'x-client-version': '1.0.0' },
      },
    );
    expect(android.errors).toBeUndefined();
  });

  it('refuses malformed version headers as a bad request', async () => {
    const malformed: Array<Record<string, string>> = [
      { 'x-client-platform': 'ios', 'x-client-version': 'latest' },
      { 'x-client-platform': 'symbian', 'x-client-version': '1.0.0' },
      { 'x-client-version': '1.0.0' },
    ];
    for (const headers of malformed) {
      const response = await gql(app.url, ME, {}, { token, headers });
      expect(response.errors?.[0]?.extensions?.code, JSON.stringify(headers)).toBe('BAD_REQUEST');
    }
  });

  it('applies the same rule over WebSocket, from the connection_init payload', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const refused = await overWebSocket(app.wsUrl, { ...auth, ...outdated }, ME);
    expect(refused.errors?.[0]?.extensions).toEqual({
      code: 'UPDATE_REQUIRED',
      platform: 'ios',
      minimumVersion: '2.0.0',
    });
    const settings = await overWebSocket(app.wsUrl, { ...auth, ...outdated }, SETTINGS);
    expect(settings.errors).toBeUndefined();
    const inHeaders = await overWebSocket(app.wsUrl, { ...auth, headers: outdated }, ME);
    expect(inHeaders.errors?.[0]?.extensions?.code).toBe('UPDATE_REQUIRED');
    for (const params of [{ ...auth, ...current }, auth]) {
      const allowed = await overWebSocket(app.wsUrl, params, ME);
      expect(allowed.errors).toBeUndefined();
      expect(allowed.data).toEqual({ me: { id: expect.any(String) } });
    }
  });

  it('sees a lowered minimum at once after the change', async () => {
    const admin = await app.signIn(['admin']);
    await gql(
      app.url,
      'mutation { setSetting(key: "app.min_version.ios", value: "1.0.0", reason: "rollback") { version } }',
      {},
      { token: admin.accessToken },
    );
    const response = await gql(app.url, ME, {}, { token, headers: outdated });
    expect(response.errors).toBeUndefined();
  });
});

describe('which operations an outdated client may run', () => {
  it('only queries that read nothing but settings', () => {
    expect(onlyReadsSettings(parse('{ settings { key } }'))).toBe(true);
    expect(onlyReadsSettings(parse('query { __typename settings { key } }'))).toBe(true);
    expect(onlyReadsSettings(parse('query { ...F } fragment F on Query { settings { key } }'))).toBe(true);
    expect(onlyReadsSettings(parse('query { settings { key } me { id } }'))).toBe(false);
    expect(onlyReadsSettings(parse('query { ...F } fragment F on Query { me { id } }'))).toBe(false);
    expect(onlyReadsSettings(parse('query { ... on Query { me { id } } }'))).toBe(false);
    expect(onlyReadsSettings(parse('mutation { signOut }'))).toBe(false);
    expect(onlyReadsSettings(parse('query A { settings { key } } query B { me { id } }'))).toBe(false);
  });
});

describe('semantic version order', () => {
  it('compares release and pre-release versions', () => {
    expect(compareSemver('1.9.9', '2.0.0')).toBe(-1);
    expect(compareSemver('2.0.0', '2.0.0+build.5')).toBe(0);
    expect(compareSemver('2.10.0', '2.9.0')).toBe(1);
    expect(compareSemver('2.0.0-beta.2', '2.0.0')).toBe(-1);
    expect(compareSemver('2.0.0-beta.2', '2.0.0-beta.10')).toBe(-1);
    expect(compareSemver('2.0.0-alpha', '2.0.0-alpha.1')).toBe(-1);
    expect(compareSemver('2.0.0-1', '2.0.0-alpha')).toBe(-1);
  });
});
