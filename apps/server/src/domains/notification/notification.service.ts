import { sql } from 'kysely';
import { z } from 'zod';
import type { Clock } from '../../platform/clock.ts';
import type { JsonObject } from '../../platform/db/database.types.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import { badInput, notFound } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import type { JobQueue } from '../timetable/job-queue.ts';
import type { DeliveryLogRepository } from './delivery-log.repository.ts';
import type { NotificationRepository, NotificationRow } from './notification.repository.ts';
import { FAILURE_OUTCOMES, NOTIFICATION_STATUSES } from './notification.tables.ts';
import {
  isNotificationKind,
  kindDefinition,
  LOCALES,
  NOTIFICATION_KIND_NAMES,
  type NotificationKind,
  renderTemplate,
} from './notification-kinds.ts';
import type { PushSendRepository } from './push-send.repository.ts';

export const DELIVER_JOB = 'notification.deliver';
export const PUSH_JOB = 'notification.push';
/** Ahead of housekeeping jobs (lower runs first): a notification is late after seconds, a sweep is not. */
export const JOB_PRIORITY = -10;
/** Runs of a push job (exponential back-off between them) before its last run gives up. */
export const PUSH_MAX_ATTEMPTS = 10;
export const pushJobKey = (key: string) => `notification:push:${key}`;
export const deliverJobKey = (key: string) => `notification:deliver:${key}`;

export type NotifyInput = {
  userId: string;
  kind: NotificationKind;
  /** The template's variables (see the catalogue). */
  variables: Record<string, string>;
  /** Extra keys for the client (ids to open); strings only, they also go into push payloads. */
  data?: Record<string, string>;
  /** The same key never makes a second notification (consumers pass `event:<event id>`). */
  dedupeKey?: string;
};

export type NotificationPage = { items: NotificationRow[]; nextCursor: string | null };

const cursorSchema = z.string().regex(/^\d{1,19}$/, 'after must be a cursor returned by a previous page');
const firstSchema = z.number().int().min(1).max(100);
const idsSchema = z.array(z.uuid('must be notification ids')).min(1).max(100);
const preferencesSchema = z.object({
  locale: z.enum(LOCALES),
  mutedKinds: z
    .array(z.string())
    .max(NOTIFICATION_KIND_NAMES.length)
    .refine((kinds) => kinds.every(isNotificationKind), 'mutedKinds must name notification kinds'),
});
const deliveryLogFilterSchema = z.object({
  userId: z.uuid('userId must be an account id').optional(),
  status: z.enum(NOTIFICATION_STATUSES).optional(),
  failure: z.enum(FAILURE_OUTCOMES).optional(),
});

/**
 * Creates notifications and serves the notification centre. Delivery (in-app, then push) runs in
 * durable jobs (notification-delivery.ts); see docs/notifications.md.
 */
export class NotificationService {
  private readonly repo: NotificationRepository;
  private readonly log: DeliveryLogRepository;
  private readonly sends: PushSendRepository;
  private readonly jobs: JobQueue;
  private readonly clock: Clock;
  private jobsInstalled = false;

  constructor(deps: {
    repo: NotificationRepository;
    log: DeliveryLogRepository;
    sends: PushSendRepository;
    jobs: JobQueue;
    clock: Clock;
  }) {
    this.repo = deps.repo;
    this.log = deps.log;
    this.sends = deps.sends;
    this.jobs = deps.jobs;
    this.clock = deps.clock;
  }

  /**
   * Creates a notification in the caller's transaction and schedules its delivery with it. Returns
   * null when the account muted the kind (nothing is stored or sent).
   */
  async notify(tx: Tx, input: NotifyInput): Promise<NotificationRow | null> {
    const definition = kindDefinition(input.kind);
    const preferences = await this.repo.preferences(tx, input.userId);
    if (definition.mutable && preferences.mutedKinds.includes(input.kind)) return null;
    const { title, body } = renderTemplate(input.kind, preferences.locale, input.variables);
    const now = this.clock.now();
    const { row, created } = await this.repo.insert(tx, {
      userId: input.userId,
      kind: input.kind,
      title,
      body,
      data: (input.data ?? {}) as JsonObject,
      priority: definition.priority,
      channels: definition.channels,
      expiresAt: new Date(now.getTime() + definition.expirySeconds * 1000),
      dedupeKey: input.dedupeKey ?? null,
      broadcastId: null,
      createdAt: now,
    });
    if (created && (await this.jobQueueInstalled(tx))) {
      // No runAt: due at once in the database's clock, whatever the injected clock says.
      await this.jobs.schedule(
        tx,
        DELIVER_JOB,
        { ids: [row.id], key: row.id },
        { jobKey: deliverJobKey(row.id), priority: JOB_PRIORITY },
      );
    }
    return row;
  }

  /**
   * Whether the job queue's schema exists. It always does where a server ever ran (every server
   * starts its job queue); a database only migrated (tests, tools) has none, and there a
   * notification is stored in the centre but not delivered, rather than failing the caller's
   * transaction (an event consumer's, for instance). Cached once true: the schema is never dropped.
   */
  private async jobQueueInstalled(tx: Tx): Promise<boolean> {
    if (this.jobsInstalled) return true;
    const result = await sql<{
      ok: boolean;
    }>`select to_regnamespace('graphile_worker') is not null as ok`.execute(tx);
    this.jobsInstalled = result.rows[0]?.ok === true;
    return this.jobsInstalled;
  }

  /** `notify` in its own transaction. */
  notifyNow(db: NotificationRepository['db'], input: NotifyInput): Promise<NotificationRow | null> {
    return withTransaction(db, (tx) => this.notify(tx, input));
  }

  /**
   * The client got the in-app message: no push follows. Idempotent; an acknowledgement after the
   * push went out only records it.
   */
  async acknowledge(userId: string, id: string): Promise<NotificationRow> {
    const notificationId = parseOrThrow(z.uuid('must be a notification id'), id, 'id');
    const row = await this.repo.acknowledge(
      this.repo.db,
      userId,
      notificationId,
      this.clock.now(),
      pushJobKey(notificationId),
    );
    if (!row) throw notFound('Notification');
    return row;
  }

  async list(userId: string, first = 20, after?: string | null): Promise<NotificationPage> {
    const size = parseOrThrow(firstSchema, first, 'first');
    const cursor = after ? BigInt(parseOrThrow(cursorSchema, after, 'after')) : null;
    const rows = await this.repo.page(userId, size + 1, cursor);
    const items = rows.slice(0, size);
    return { items, nextCursor: rows.length > size ? (items.at(-1)?.seq.toString() ?? null) : null };
  }

  unreadCount(userId: string): Promise<number> {
    return this.repo.unreadCount(userId);
  }

  async markRead(userId: string, ids: readonly string[]): Promise<number> {
    return this.repo.markRead(userId, parseOrThrow(idsSchema, ids, 'ids'), this.clock.now());
  }

  markAllRead(userId: string): Promise<number> {
    return this.repo.markRead(userId, 'all', this.clock.now());
  }

  async preferences(userId: string): Promise<{ locale: string; mutedKinds: string[] }> {
    return this.repo.preferences(this.repo.db, userId);
  }

  /** Locale of the texts and the muted kinds; kinds that cannot be muted are refused. */
  async setPreferences(userId: string, input: { locale: string; mutedKinds: string[] }) {
    const parsed = parseOrThrow(preferencesSchema, input, 'input');
    const refused = parsed.mutedKinds.filter((k) => isNotificationKind(k) && !kindDefinition(k).mutable);
    if (refused.length > 0) {
      throw badInput(`These kinds cannot be muted: ${refused.join(', ')}`, { field: 'mutedKinds' });
    }
    const muted = [...new Set(parsed.mutedKinds)].sort();
    await this.repo.savePreferences(userId, parsed.locale, muted, this.clock.now());
    return { locale: parsed.locale, mutedKinds: muted };
  }

  attempts(notificationId: string) {
    return this.log.attempts(parseOrThrow(z.uuid('must be a notification id'), notificationId, 'id'));
  }

  /** Staff's listing of the log: notifications newest first, by account, status and failure. */
  async deliveryLogs(
    filter: { userId?: string | null; status?: string | null; failure?: string | null },
    first = 50,
    after?: string | null,
  ): Promise<NotificationPage> {
    const parsed = parseOrThrow(
      deliveryLogFilterSchema,
      Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== null && v !== undefined)),
      'filter',
    );
    const size = parseOrThrow(firstSchema, first, 'first');
    const cursor = after ? BigInt(parseOrThrow(cursorSchema, after, 'after')) : null;
    const rows = await this.log.notifications(
      {
        ...(parsed.userId ? { userId: parsed.userId } : {}),
        ...(parsed.status ? { status: parsed.status } : {}),
        ...(parsed.failure ? { failure: parsed.failure } : {}),
      },
      size + 1,
      cursor,
    );
    const items = rows.slice(0, size);
    return { items, nextCursor: rows.length > size ? (items.at(-1)?.seq.toString() ?? null) : null };
  }

  async get(id: string): Promise<NotificationRow> {
    const row = await this.repo.get(
      this.repo.db,
      parseOrThrow(z.uuid('must be a notification id'), id, 'id'),
    );
    if (!row) throw notFound('Notification');
    return row;
  }

  async outbox(
    filter: { notificationId?: string | null; userId?: string | null },
    first = 50,
    after?: string | null,
  ) {
    const size = parseOrThrow(firstSchema, first, 'first');
    const cursor = after ? BigInt(parseOrThrow(cursorSchema, after, 'after')) : null;
    const rows = await this.sends.outbox(
      {
        ...(filter.notificationId
          ? { notificationId: parseOrThrow(z.uuid(), filter.notificationId, 'notificationId') }
          : {}),
        ...(filter.userId ? { userId: parseOrThrow(z.uuid(), filter.userId, 'userId') } : {}),
      },
      size + 1,
      cursor,
    );
    const items = rows.slice(0, size);
    return { items, nextCursor: rows.length > size ? (items.at(-1)?.id.toString() ?? null) : null };
  }
}
