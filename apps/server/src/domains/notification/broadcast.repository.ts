import { sql } from 'kysely';
import type { Role } from '../../platform/auth/roles.ts';
import type { Db } from '../../platform/db/database.ts';
import { type Executor, type NewNotification, values } from './notification.repository.ts';

/** Who an admin broadcast goes to. Cohorts (the panel domain) plug in as another kind later. */
export type Audience = { kind: 'all' } | { kind: 'role'; role: Role } | { kind: 'users'; userIds: string[] };

/** Admin broadcasts: their audience, their rows, and the notifications they create in bulk. */
export class BroadcastRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async preferencesOf(ex: Executor, userIds: readonly string[]) {
    if (userIds.length === 0) return new Map<string, { locale: string; mutedKinds: string[] }>();
    const rows = await ex
      .selectFrom('notification.preferences')
      .select(['user_id', 'locale', 'muted_kinds'])
      .where('user_id', 'in', [...userIds])
      .execute();
    return new Map(rows.map((r) => [r.user_id, { locale: r.locale, mutedKinds: r.muted_kinds }]));
  }

  async insertMany(ex: Executor, rows: NewNotification[]): Promise<string[]> {
    if (rows.length === 0) return [];
    const inserted = await ex
      .insertInto('notification.notifications')
      .values(rows.map(values))
      .returning('id')
      .execute();
    return inserted.map((r) => r.id);
  }

  /**
   * The accounts an audience names. Reads the user domain's accounts table (read-only; a published
   * view would be the cleaner seam once the panel domain's cohorts exist): active accounts only.
   */
  async audienceIds(
    ex: Executor,
    audience: Audience,
    limit: number,
    afterId: string | null,
  ): Promise<string[]> {
    let query = ex
      .selectFrom('user.users')
      .select('id')
      .where('status', '=', 'active')
      .orderBy('id')
      .limit(limit);
    if (audience.kind === 'role') query = query.where(sql<boolean>`${audience.role} = any(roles)`);
    if (audience.kind === 'users') query = query.where('id', 'in', audience.userIds);
    if (afterId) query = query.where('id', '>', afterId);
    return (await query.execute()).map((r) => r.id);
  }

  async audienceCount(audience: Audience): Promise<number> {
    let query = this.db
      .selectFrom('user.users')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('status', '=', 'active');
    if (audience.kind === 'role') query = query.where(sql<boolean>`${audience.role} = any(roles)`);
    if (audience.kind === 'users') query = query.where('id', 'in', audience.userIds);
    return Number((await query.executeTakeFirstOrThrow()).n);
  }

  async insertBroadcast(
    ex: Executor,
    input: { audience: Audience; title: string; body: string; recipients: number; createdBy: string | null },
  ): Promise<string> {
    const row = await ex
      .insertInto('notification.broadcasts')
      .values({
        audience: JSON.stringify(input.audience),
        title: input.title,
        body: input.body,
        recipients: input.recipients,
        created_by: input.createdBy,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  async setBroadcastRecipients(ex: Executor, id: string, recipients: number): Promise<void> {
    await ex.updateTable('notification.broadcasts').set({ recipients }).where('id', '=', id).execute();
  }
}
