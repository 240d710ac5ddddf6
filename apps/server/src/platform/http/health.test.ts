import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { gql, wsClient } from '../../../test/graphql-client.ts';

describe('health, readiness and metrics', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('is live and ready when the database is reachable and migrated', async () => {
    expect(await (await fetch(`${app.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', database: true, migrations: true });
  });

  it('stays ready when a newer release has applied migrations this process does not know', async () => {
    await app.database.handle.db
      .insertInto('platform.schema_migrations')
      .values({ module: 'user', version: 999, name: '0999_from_the_future.sql', checksum: 'f'.repeat(64) })
      .execute();
    expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
  });

  it('is not ready while a known migration is not applied', async () => {
    await app.database.handle.db
      .deleteFrom('platform.schema_migrations')
      .where('module', '=', 'user')
      .execute();
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'not_ready', database: true, migrations: false });
  });

  it('exports HTTP, GraphQL, pool and WebSocket metrics', async () => {
    const tokens = await app.signIn();
    await gql(app.url, 'query Probe { serverInfo { version } }');
    await gql(app.url, 'query Mine { me { id } }', {}, { token: tokens.accessToken });
    const { client } = wsClient(app.wsUrl, { authorization: `Bearer ${tokens.accessToken}` });
    await new Promise<void>((resolve) => {
      const dispose = client.subscribe(
        { query: 'subscription { serverClock(intervalMs: 100) }' },
        { next: () => resolve(), error: () => resolve(), complete: () => resolve() },
      );
      void dispose;
    });
    const text = await (await fetch(`${app.url}/metrics`)).text();
    await client.dispose();
    expect(text).toMatch(
      /olo_http_request_duration_seconds_count\{method="POST",route="\/graphql",status_code="200"\} \d+/,
    );
    expect(text).toMatch(
      /olo_graphql_operations_total\{operation_type="query",operation_name="Probe",outcome="ok"\} 1/,
    );
    expect(text).toMatch(
      /olo_graphql_operations_total\{operation_type="query",operation_name="Mine",outcome="ok"\} 1/,
    );
    expect(text).toMatch(/olo_db_pool_connections\{state="total"\} [1-9]/);
    expect(text).toMatch(/olo_websocket_connections 1/);
    expect(text).toMatch(
      /olo_graphql_operations_total\{operation_type="subscription",operation_name="anonymous",outcome="subscribed"\} 1/,
    );
  });
});
