import { z } from 'zod';
import type { Clock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import type { AuditActor, AuditLog } from '../mission_control/audit-log.ts';
import type { JobQueue } from '../timetable/job-queue.ts';
import type { Audience, BroadcastRepository } from './broadcast.repository.ts';
import type { NewNotification } from './notification.repository.ts';
import { DELIVER_JOB, deliverJobKey, JOB_PRIORITY } from './notification.service.ts';
import { kindDefinition, renderTemplate } from './notification-kinds.ts';

// Accounts per insert and per delivery job.
const CHUNK = 1000;

export const audienceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('all') }),
  z.object({ kind: z.literal('role'), role: z.enum(['user', 'streamer', 'moderator', 'admin']) }),
  z.object({
    kind: z.literal('users'),
    userIds: z.array(z.uuid('userIds must be account ids')).min(1).max(10_000),
  }),
]);

const broadcastSchema = z.object({
  audience: audienceSchema,
  title: z.string().trim().min(1, 'title must not be empty').max(100),
  body: z.string().trim().min(1, 'body must not be empty').max(1000),
});

/**
 * Admin broadcasts: one `admin_broadcast` notification per account of the audience (all accounts, a
 * role, or a list; the panel domain's cohorts will be one more audience kind), created in one
 * transaction with their delivery jobs, one job per 1,000 accounts.
 */
export class BroadcastService {
  private readonly deps: { repo: BroadcastRepository; jobs: JobQueue; audit: AuditLog; clock: Clock };

  constructor(deps: BroadcastService['deps']) {
    this.deps = deps;
  }

  /** How many accounts the audience names now (muted accounts included: they are skipped at send). */
  preview(audience: unknown): Promise<number> {
    return this.deps.repo.audienceCount(parseOrThrow(audienceSchema, audience, 'audience') as Audience);
  }

  async broadcast(actor: AuditActor, input: unknown): Promise<{ id: string; recipients: number }> {
    const { audience, title, body } = parseOrThrow(broadcastSchema, input, 'input');
    const { repo, jobs, audit, clock } = this.deps;
    const definition = kindDefinition('admin_broadcast');
    return withTransaction(repo.db, async (tx) => {
      const now = clock.now();
      const id = await repo.insertBroadcast(tx, {
        audience: audience as Audience,
        title,
        body,
        recipients: 0,
        createdBy: actor.principal?.userId ?? null,
      });
      let recipients = 0;
      let after: string | null = null;
      for (let chunk = 0; ; chunk++) {
        const userIds = await repo.audienceIds(tx, audience as Audience, CHUNK, after);
        if (userIds.length === 0) break;
        after = userIds.at(-1) ?? null;
        const preferences = await repo.preferencesOf(tx, userIds);
        const rows: NewNotification[] = [];
        for (const userId of userIds) {
          const p = preferences.get(userId);
          if (p?.mutedKinds.includes('admin_broadcast')) continue;
          const text = renderTemplate('admin_broadcast', p?.locale ?? 'en', { title, body });
          rows.push({
            userId,
            kind: 'admin_broadcast',
            ...text,
            data: { broadcastId: id },
            priority: definition.priority,
            channels: definition.channels,
            expiresAt: new Date(now.getTime() + definition.expirySeconds * 1000),
            dedupeKey: null,
            broadcastId: id,
            createdAt: now,
          });
        }
        const ids = await repo.insertMany(tx, rows);
        recipients += ids.length;
        if (ids.length > 0) {
          const key = `b:${id}:${chunk}`;
          await jobs.schedule(
            tx,
            DELIVER_JOB,
            { ids, key },
            { jobKey: deliverJobKey(key), priority: JOB_PRIORITY },
          );
        }
        if (userIds.length < CHUNK) break;
      }
      await repo.setBroadcastRecipients(tx, id, recipients);
      await audit.record(tx, actor, {
        action: 'notification.broadcast',
        targetType: 'broadcast',
        targetId: id,
        before: null,
        after: { audience, title, body, recipients },
        reason: null,
      });
      return { id, recipients };
    });
  }
}
