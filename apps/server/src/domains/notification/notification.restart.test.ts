import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ISSUER, testConfig } from '../../../test/app.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/database.ts';
import { wsClient } from '../../../test/graphql-client.ts';
import { type ServerProcess, startServerProcess } from '../../../test/server-process.ts';
import { buildApp } from '../../app.ts';
import { systemClock } from '../../platform/clock.ts';
import { platformMigrations, readMigrations } from '../../platform/db/migrator.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import type { Services } from '../../services.ts';
import { domainMigrations } from '../registry.ts';
import { waitFor } from '../timetable/testing.ts';

const ACK_TIMEOUT_SECONDS = 4;

describe('a server restart inside the acknowledgement window', () => {
  let database: TestDatabase;
  let services: Services;
  let shutdown: () => Promise<void>;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    // This process creates and inspects notifications on the shared database; it never runs jobs:
    // the server processes do.
    const built = await buildApp({
      config: testConfig(),
      database: database.handle,
      migrations: await readMigrations([platformMigrations, ...domainMigrations]),
      clock: systemClock,
    });
    services = built.services;
    shutdown = built.shutdown;
    await services.signingKeys.ensureSigningKey(30);
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop('SIGKILL')));
    await shutdown?.();
    await database?.drop();
  });

  it('neither loses nor duplicates the push when the server is killed after the in-app send', async () => {
    await services.settings.set(
      { principal: null, requestId: 'restart-test' },
      'notification.ack_timeout_seconds',
      { gift_received: ACK_TIMEOUT_SECONDS },
      'restart test',
    );
    // The same issuer as this process, so the servers accept the session opened here.
    const env = { DATABASE_URL: database.url, SEED_DEMO_DATA: 'false', PUBLIC_URL: TEST_ISSUER };
    const first = await startServerProcess({ env });
    servers.push(first);
    const db = database.handle.db;
    const account = await services.accounts.createOloAccount(['user']);
    const tokens = await withTransaction(db, (tx) =>
      services.sessions.open(tx, account, { deviceName: 'phone', userAgent: 'test', ip: '127.0.0.1' }),
    );
    await services.pushTokens.register({
      userId: account.id,
      sessionId: null,
      platform: 'android',
      kind: 'fcm',
      token: `fcm-${account.id}`,
    });
    // The phone is online on the first server and never acknowledges.
    const socket = wsClient(`${first.url.replace('http', 'ws')}/graphql`, {
      authorization: `Bearer ${tokens.accessToken}`,
    });
    const received: string[] = [];
    socket.client.subscribe(
      { query: 'subscription { notifications { id } }' },
      {
        next: (value) => received.push((value.data as { notifications: { id: string } }).notifications.id),
        error: () => {},
        complete: () => {},
      },
    );
    await waitFor('the phone to be online', () => services.presence.isOnline(account.id));
    for (let i = 0; received.length === 0 && i < 50; i++) {
      await withTransaction(db, (tx) =>
        services.notifications.service.notify(tx, {
          userId: account.id,
          kind: 'gift_received',
          variables: { coins: String(i + 1) },
        }),
      );
      await waitFor('the in-app delivery', () => received.length > 0, 2_000).catch(() => {});
    }
    const inApp = received.at(-1) ?? '';
    expect((await services.notifications.service.get(inApp)).status).toBe('in_app_sent');

    expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    await socket.client.dispose();
    expect((await services.notifications.service.get(inApp)).status).toBe('in_app_sent');
    const second = await startServerProcess({ env });
    servers.push(second);

    await waitFor(
      'the push after the time-out',
      async () => {
        const row = await services.notifications.service.get(inApp);
        return row.status === 'pushed';
      },
      60_000,
    );
    // Time for any duplicate to show up: a retried job or a second timer.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const pushed = (await services.notifications.service.outbox({ notificationId: inApp })).items;
    expect(pushed.map((p) => p.tokenKind)).toEqual(['fcm']);
    expect((await services.notifications.service.attempts(inApp)).map((a) => a.outcome)).toEqual([
      'in_app_sent',
      'push_sent',
    ]);
    await second.stop();
  }, 120_000);
});
