import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { waitFor } from '../timetable/testing.ts';
import type { AuthTokens } from '../user/session.service.ts';

const LOGS = `query($userId: ID, $status: String, $failure: String, $first: Int, $after: String) {
  notificationDeliveryLogs(userId: $userId, status: $status, failure: $failure, first: $first, after: $after) {
    items { id userId kind status attempts { outcome detail } }
    nextCursor
  }
}`;
const OUTBOX = `query($notificationId: ID, $userId: ID, $first: Int, $after: String) {
  pushOutbox(notificationId: $notificationId, userId: $userId, first: $first, after: $after) {
    items { id notificationId userId tokenKind payload }
    nextCursor
  }
}`;

type LogPage = {
  notificationDeliveryLogs: {
    items: Array<{
      id: string;
      userId: string;
      kind: string;
      status: string;
      attempts: Array<{ outcome: string; detail: string | null }>;
    }>;
    nextCursor: string | null;
  };
};
type OutboxPage = {
  pushOutbox: {
    items: Array<{
      id: string;
      notificationId: string;
      userId: string;
      tokenKind: string;
      payload: Record<string, unknown>;
    }>;
    nextCursor: string | null;
  };
};

describe('the delivery log and the local outbox, for admins', () => {
  let app: TestApp;
  let admin: AuthTokens;
  let moderator: AuthTokens;

  const settled = async (id: string) => {
    await waitFor('the delivery to finish', async () => {
      const s = (await app.services.notifications.service.get(id)).status;
      return s === 'pushed' || s === 'push_failed';
    });
  };
  const gift = async (userId: string, coins: string) => {
    const n = await app.services.notifications.service.notifyNow(app.database.handle.db, {
      userId,
      kind: 'gift_received',
      variables: { coins },
    });
    if (!n) throw new Error('not created');
    await settled(n.id);
    return n.id;
  };
  const device = (userId: string, kind: 'fcm' | 'onesignal', token: string) =>
    app.services.pushTokens.register({ userId, sessionId: null, platform: 'android', kind, token });

  beforeAll(async () => {
    app = await startTestApp();
    admin = await app.signIn(['admin']);
    moderator = await app.signIn(['moderator']);
    await app.services.jobs.start();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('lists notifications with their attempts by account, status and failure, page by page', async () => {
    const [ana, bo] = [await app.signIn(['user']), await app.signIn(['user'])];
    // Ana has no device for the first gift (it fails), then one for the second (it goes out).
    const failed = await gift(ana.userId, '1');
    await device(ana.userId, 'fcm', `fcm-${ana.userId}`);
    const pushed = await gift(ana.userId, '2');
    const other = await gift(bo.userId, '3');
    const logs = async (variables: Record<string, unknown>, token = admin.accessToken) =>
      gql<LogPage>(app.url, LOGS, variables, { token });

    const page1 = await logs({ userId: ana.userId, first: 1 });
    expect(page1.errors).toBeUndefined();
    expect(page1.data?.notificationDeliveryLogs.items).toEqual([
      {
        id: pushed,
        userId: ana.userId,
        kind: 'gift_received',
        status: 'pushed',
        attempts: [
          { outcome: 'offline', detail: 'not online: push at once' },
          { outcome: 'push_sent', detail: null },
        ],
      },
    ]);
    const page2 = await logs({
      userId: ana.userId,
      first: 1,
      after: page1.data?.notificationDeliveryLogs.nextCursor,
    });
    expect(page2.data?.notificationDeliveryLogs.items.map((i) => i.id)).toEqual([failed]);
    expect(page2.data?.notificationDeliveryLogs.nextCursor).toBeNull();

    const byStatus = await logs({ userId: ana.userId, status: 'push_failed' });
    expect(byStatus.data?.notificationDeliveryLogs.items.map((i) => [i.id, i.status])).toEqual([
      [failed, 'push_failed'],
    ]);
    // Across accounts: every notification with a failed push, and not the one that went out.
    const byFailure = await logs({ failure: 'push_failed', first: 100 });
    const ids = byFailure.data?.notificationDeliveryLogs.items.map((i) => i.id) ?? [];
    expect(ids.filter((id) => [failed, pushed, other].includes(id))).toEqual([other, failed]);
    expect(
      byFailure.data?.notificationDeliveryLogs.items.find((i) => i.id === other)?.attempts.at(-1),
    ).toEqual({ outcome: 'push_failed', detail: 'no push devices' });

    expect(errorCodes(await logs({ status: 'lost' }))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await logs({ failure: 'push_sent' }))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await logs({ userId: 'ana' }))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await logs({ userId: ana.userId }, moderator.accessToken))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await logs({ userId: ana.userId }, ana.accessToken))).toEqual(['FORBIDDEN']);
  });

  it('shows admins what the local provider recorded, by notification or account, page by page', async () => {
    const cy = await app.signIn(['user']);
    await device(cy.userId, 'fcm', `fcm-${cy.userId}`);
    await device(cy.userId, 'onesignal', `os-${cy.userId}`);
    const first = await gift(cy.userId, '5');
    const second = await gift(cy.userId, '6');
    const outbox = async (variables: Record<string, unknown>, token = admin.accessToken) =>
      gql<OutboxPage>(app.url, OUTBOX, variables, { token });

    const one = await outbox({ notificationId: first });
    expect(one.errors).toBeUndefined();
    expect(
      one.data?.pushOutbox.items
        .map((o) => [o.notificationId, o.userId, o.tokenKind, o.payload.kind, o.payload.body])
        .sort(),
    ).toEqual([
      [first, cy.userId, 'fcm', 'gift_received', 'A gift worth 5 coins'],
      [first, cy.userId, 'onesignal', 'gift_received', 'A gift worth 5 coins'],
    ]);
    // By account, newest first, three per page: the second gift's two, then the first gift's.
    const page1 = await outbox({ userId: cy.userId, first: 3 });
    const page2 = await outbox({ userId: cy.userId, first: 3, after: page1.data?.pushOutbox.nextCursor });
    expect(page1.data?.pushOutbox.items.map((o) => o.notificationId)).toEqual([second, second, first]);
    expect(page2.data?.pushOutbox.items.map((o) => o.notificationId)).toEqual([first]);
    expect(page2.data?.pushOutbox.nextCursor).toBeNull();
    const all = [...(page1.data?.pushOutbox.items ?? []), ...(page2.data?.pushOutbox.items ?? [])];
    expect(new Set(all.map((o) => o.id)).size).toBe(4);

    expect(errorCodes(await outbox({ userId: cy.userId }, moderator.accessToken))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await outbox({ userId: cy.userId }, cy.accessToken))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await outbox({ notificationId: 'x' }))).toEqual(['BAD_USER_INPUT']);
  });
});
