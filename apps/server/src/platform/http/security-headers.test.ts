import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { gql } from '../../../test/graphql-client.ts';

const ALLOWED = 'https://admin.olo.example';

describe('security headers outside production', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('forbids framing, sniffing, referrers and loading anything from API responses', async () => {
    const response = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ serverInfo { version } }' }),
    });
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    // HSTS would pin developers' localhost to HTTPS.
    expect(response.headers.get('strict-transport-security')).toBeNull();
  });

  it('lets GraphiQL load its scripts and styles from the CDN, and nothing else', async () => {
    const page = await fetch(`${app.url}/graphiql`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self' https://unpkg.com");
    expect(csp).toContain("style-src 'self' 'unsafe-inline' https://unpkg.com");
    expect(csp).toContain("frame-ancestors 'none'");
    const script = await fetch(`${app.url}/graphiql/main.js`);
    expect(script.headers.get('content-security-policy')).toBe(csp);
    const api = await fetch(`${app.url}/healthz`);
    expect(api.headers.get('content-security-policy')).not.toContain('unpkg');
  });

  it('lets GraphiQL load the schema: the standard introspection query is within the default limits', async () => {
    const response = await gql(app.url, getIntrospectionQuery());
    expect(response.errors).toBeUndefined();
    expect(response.data).toHaveProperty('__schema');
  });
});

describe('security headers and CORS in production', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({
      env: {
        NODE_ENV: 'production',
        AUTH_SIGNING_KEY_SECRET: 's'.repeat(32),
        MEDIA_URL_SECRET: 'm'.repeat(32),
        CORS_ORIGINS: ALLOWED,
      },
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('sends HSTS', async () => {
    const response = await fetch(`${app.url}/healthz`);
    expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
  });

  it('allows the origins in CORS_ORIGINS and no other', async () => {
    const preflight = (origin: string) =>
      fetch(`${app.url}/graphql`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,authorization',
        },
      });
    const allowed = await preflight(ALLOWED);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    const refused = await preflight('https://evil.example');
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();

    const simple = await fetch(`${app.url}/healthz`, { headers: { origin: 'https://evil.example' } });
    expect(simple.headers.get('access-control-allow-origin')).toBeNull();
    const fromAdmin = await fetch(`${app.url}/healthz`, { headers: { origin: ALLOWED } });
    expect(fromAdmin.headers.get('access-control-allow-origin')).toBe(ALLOWED);
  });

  it('serves no GraphiQL', async () => {
    expect((await fetch(`${app.url}/graphiql`)).status).toBe(404);
  });
});
