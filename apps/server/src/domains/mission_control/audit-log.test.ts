import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';

const LIST = `query($filter: AuditFilter, $first: Int, $after: String) {
  auditLog(filter: $filter, first: $first, after: $after) { items { action targetId actorId reason before after } nextCursor }
}`;
type Page = {
  auditLog: {
    items: Array<{ action: string; targetId: string; actorId: string | null }>;
    nextCursor: string | null;
  };
};

describe('audit log', () => {
  let app: TestApp;
  let adminToken: string;
  let adminId: string;

  beforeAll(async () => {
    app = await startTestApp();
    const admin = await app.signIn(['user', 'admin']);
    adminToken = admin.accessToken;
    adminId = admin.userId;
  });
  afterAll(async () => {
    await app?.close();
  });

  const record = (targetId: string, commit = true) =>
    app.database.handle.db
      .transaction()
      .execute(async (tx) => {
        await app.services.audit.record(
          tx,
          {
            principal: {
              userId: adminId,
              role: 'admin',
              allowedRoles: ['admin'],
              issuer: 'x',
              sessionId: undefined,
              tokenExpiresAt: new Date(),
            },
            requestId: 'req-1',
          },
          {
            action: 'user.banned',
            targetType: 'user',
            targetId,
            before: { banned: false },
            after: { banned: true },
            reason: 'spam',
          },
        );
        if (!commit) throw new Error('roll back');
      })
      .catch(() => undefined);

  it('commits with the action, and not without it', async () => {
    await record('target-rolled-back', false);
    await record('target-1');
    const page = await gql<Page>(app.url, LIST, { filter: { targetType: 'user' } }, { token: adminToken });
    const targets = page.data?.auditLog.items.map((i) => i.targetId);
    expect(targets).toContain('target-1');
    expect(targets).not.toContain('target-rolled-back');
    expect(page.data?.auditLog.items[0]).toMatchObject({
      action: 'user.banned',
      actorId: adminId,
      reason: 'spam',
    });
  });

  it('filters and paginates newest first', async () => {
    for (const id of ['p-1', 'p-2', 'p-3']) await record(id);
    const first = await gql<Page>(
      app.url,
      LIST,
      { filter: { action: 'user.banned' }, first: 2 },
      { token: adminToken },
    );
    expect(first.data?.auditLog.items.map((i) => i.targetId)).toEqual(['p-3', 'p-2']);
    const second = await gql<Page>(
      app.url,
      LIST,
      { filter: { action: 'user.banned' }, first: 2, after: first.data?.auditLog.nextCursor },
      { token: adminToken },
    );
    expect(second.data?.auditLog.items.map((i) => i.targetId)).toEqual(['p-1', 'target-1']);
    const byTarget = await gql<Page>(app.url, LIST, { filter: { targetId: 'p-2' } }, { token: adminToken });
    expect(byTarget.data?.auditLog.items.map((i) => i.targetId)).toEqual(['p-2']);
  });

  it('is for admins only and validates its arguments', async () => {
    const moderator = await app.signIn(['user', 'moderator']);
    expect(errorCodes(await gql(app.url, LIST, {}, { token: moderator.accessToken }))).toEqual(['FORBIDDEN']);
    const bad = await gql(app.url, LIST, { first: 0 }, { token: adminToken });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    const badCursor = await gql(app.url, LIST, { after: 'abc' }, { token: adminToken });
    expect(badCursor.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });
});
