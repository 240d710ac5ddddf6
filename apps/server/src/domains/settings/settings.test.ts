import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { gql } from '../../../test/graphql-client.ts';

const SET =
  'mutation($key: String!, $value: JSON!, $reason: String!) { setSetting(key: $key, value: $value, reason: $reason) { key value version } }';
const HISTORY =
  'query($key: String!, $first: Int, $after: String) { settingHistory(key: $key, first: $first, after: $after) { items { key version before after changedBy reason } nextCursor } }';

describe('global settings', () => {
  let app: TestApp;
  let admin: { accessToken: string; userId: string };

  beforeAll(async () => {
    app = await startTestApp();
    admin = await app.signIn(['admin']);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('serves every setting with its default to anyone, signed in or not', async () => {
    const response = await gql<{ settings: Array<{ key: string; value: unknown; version: number }> }>(
      app.url,
      'query { settings { key value version description updatedAt } }',
    );
    expect(response.errors).toBeUndefined();
    const byKey = Object.fromEntries(response.data?.settings.map((s) => [s.key, s]) ?? []);
    expect(byKey['call.ring_timeout_seconds']).toMatchObject({ value: 30, version: 0 });
    expect(byKey['app.min_version.android']).toMatchObject({ value: '0.0.0', version: 0 });
    expect(byKey['feature.roulette_enabled']).toMatchObject({ value: true });
  });

  it('refuses values outside the key schema and unknown keys, changing nothing', async () => {
    const cases: Array<[string, unknown, string]> = [
      ['call.ring_timeout_seconds', 5, 'value'],
      ['call.ring_timeout_seconds', 121, 'value'],
      ['call.ring_timeout_seconds', 30.5, 'value'],
      ['call.ring_timeout_seconds', '30', 'value'],
      ['feature.gifts_enabled', 'yes', 'value'],
      ['app.min_version.ios', '2.0', 'value'],
      ['no.such_key', 1, 'key'],
    ];
    for (const [key, value, field] of cases) {
      const response = await gql(app.url, SET, { key, value, reason: 'test' }, { token: admin.accessToken });
      expect(response.errors?.[0]?.extensions, `${key}=${JSON.stringify(value)}`).toEqual({
        code: 'BAD_USER_INPUT',
        field,
      });
    }
    const noReason = await gql(
      app.url,
      SET,
      { key: 'call.ring_timeout_seconds', value: 40, reason: ' ' },
      { token: admin.accessToken },
    );
    expect(noReason.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'reason' });
    expect(await app.services.settings.get('call.ring_timeout_seconds')).toBe(30);
    const history = await gql<{ settingHistory: { items: unknown[] } }>(
      app.url,
      HISTORY,
      { key: 'call.ring_timeout_seconds' },
      { token: admin.accessToken },
    );
    expect(history.data?.settingHistory.items).toEqual([]);
  });

  it('versions and audits every change, and services read the new value at once', async () => {
    expect(await app.services.settings.get('call.ring_timeout_seconds')).toBe(30);
    for (const [value, reason] of [
      [45, 'slow networks'],
      [60, 'slower networks'],
    ] as const) {
      const response = await gql(
        app.url,
        SET,
        { key: 'call.ring_timeout_seconds', value, reason },
        { token: admin.accessToken },
      );
      expect(response.errors).toBeUndefined();
    }
    expect(await app.services.settings.get('call.ring_timeout_seconds')).toBe(60);

    const history = await gql<{
      settingHistory: { items: Array<Record<string, unknown>>; nextCursor: string | null };
    }>(app.url, HISTORY, { key: 'call.ring_timeout_seconds', first: 1 }, { token: admin.accessToken });
    expect(history.data?.settingHistory.items).toEqual([
      {
        key: 'call.ring_timeout_seconds',
        version: 2,
        before: 45,
        after: 60,
        changedBy: admin.userId,
        reason: 'slower networks',
      },
    ]);
    const older = await gql<{
      settingHistory: { items: Array<Record<string, unknown>>; nextCursor: string | null };
    }>(
      app.url,
      HISTORY,
      { key: 'call.ring_timeout_seconds', first: 1, after: history.data?.settingHistory.nextCursor },
      { token: admin.accessToken },
    );
    expect(older.data?.settingHistory.items).toMatchObject([{ version: 1, before: 30, after: 45 }]);
    expect(older.data?.settingHistory.nextCursor).toBeNull();

    const audit = await app.services.audit.list(
      { action: 'settings.changed', targetId: 'call.ring_timeout_seconds' },
      10,
      undefined,
    );
    expect(audit.map((a) => [a.actorId, a.before, a.after, a.reason])).toEqual([
      [admin.userId, { value: 45, version: 1 }, { value: 60, version: 2 }, 'slower networks'],
      [admin.userId, { value: 30, version: 0 }, { value: 45, version: 1 }, 'slow networks'],
    ]);
  });

  it('drops the cached settings when another node announces a change', async () => {
    await app.services.settings.get('feature.gifts_enabled');
    // Written behind this node's back, as another node would.
    await app.database.handle.db
      .insertInto('settings.values')
      .values({ key: 'feature.gifts_enabled', value: 'false', version: 1 })
      .execute();
    expect(await app.services.settings.get('feature.gifts_enabled')).toBe(true);
    await app.services.pubsub.publish('system:settings-changed', { key: 'feature.gifts_enabled' });
    let seen: boolean | undefined;
    for (let i = 0; i < 100 && seen !== false; i++) {
      seen = await app.services.settings.get('feature.gifts_enabled');
      if (seen) await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen).toBe(false);
  });

  it('lets only admins change settings or read their history', async () => {
    for (const role of ['user', 'streamer', 'moderator'] as const) {
      const tokens = await app.signIn([role]);
      const set = await gql(
        app.url,
        SET,
        { key: 'feature.gifts_enabled', value: false, reason: 'nope' },
        { token: tokens.accessToken },
      );
      expect(set.errors?.[0]?.extensions?.code, role).toBe('FORBIDDEN');
      const history = await gql(
        app.url,
        HISTORY,
        { key: 'feature.gifts_enabled' },
        { token: tokens.accessToken },
      );
      expect(history.errors?.[0]?.extensions?.code, role).toBe('FORBIDDEN');
    }
    const anonymous = await gql(app.url, SET, { key: 'feature.gifts_enabled', value: false, reason: 'nope' });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('concurrent changes of one setting', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('get consecutive versions, even the very first ones', async () => {
    const actor = { principal: null, requestId: null };
    const values = [11, 12, 13, 14, 15, 16];
    await Promise.all(
      values.map((value) =>
        app.services.settings.set(actor, 'call.ring_timeout_seconds', value, `to ${value}`),
      ),
    );
    const history = await app.services.settings.history('call.ring_timeout_seconds', 20, undefined);
    expect(history.map((c) => c.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    // Each change's `before` is the previous change's `after`.
    const ordered = [...history].reverse();
    expect(ordered[0]?.before).toBe(30);
    for (let i = 1; i < ordered.length; i++) expect(ordered[i]?.before).toBe(ordered[i - 1]?.after);
  });
});
