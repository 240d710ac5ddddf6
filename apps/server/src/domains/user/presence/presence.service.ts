import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../../../platform/clock.ts';
import { type Tx, withTransaction } from '../../../platform/db/transaction.ts';
import { parseOrThrow } from '../../../platform/errors/parse-input.ts';
import type { Logger } from '../../../platform/observability/logger.ts';
import type { EventSink } from '../../event_log/event-log.service.ts';
import { userAvailabilityChanged, userCameOnline, userWentOffline } from './presence.events.ts';
import type { PresenceRepository, StatusRow } from './presence.repository.ts';
import { AVAILABILITIES, type Availability } from './presence.tables.ts';

export type PresenceSettings = { heartbeatSeconds: number; ttlSeconds: number };

/** What reads show: an offline streamer is never `available`. */
export type PresenceView = {
  userId: string;
  online: boolean;
  onlineSince: Date | null;
  lastSeenAt: Date | null;
  availability: Availability;
};

/** An authenticated WebSocket opened or closed on this node (from platform/graphql/websocket.ts). */
export type ConnectionChange = { type: 'opened' | 'closed'; connectionId: string; userId: string };

export const MAX_WATCHED_USERS = 200;

const userIdsSchema = z
  .array(z.uuid('userIds must be account ids'))
  .min(1, 'userIds must not be empty')
  .max(MAX_WATCHED_USERS, `at most ${MAX_WATCHED_USERS} userIds`);
const availabilitySchema = z.enum(AVAILABILITIES);

type LocalConnection = { userId: string; recorded: boolean };

export function effectiveAvailability(status: Pick<StatusRow, 'online' | 'availability'>): Availability {
  if (status.online) return status.availability;
  return status.availability === 'busy' ? 'busy' : 'away';
}

function view(userId: string, status: StatusRow | undefined): PresenceView {
  if (!status) return { userId, online: false, onlineSince: null, lastSeenAt: null, availability: 'away' };
  return {
    userId,
    online: status.online,
    onlineSince: status.onlineSince,
    lastSeenAt: status.lastSeenAt,
    availability: effectiveAvailability(status),
  };
}

/**
 * Who is online: an account is online while at least one authenticated WebSocket is open on any node.
 * Each node records its connections under its own id and keeps a heartbeat; the sweep removes the
 * connections of nodes whose heartbeat is older than the TTL. See docs/presence.md.
 */
export class PresenceService {
  /** Random per process: a restarted process is a new node, its predecessor's rows are swept. */
  readonly nodeId = randomUUID();
  private readonly repo: PresenceRepository;
  private readonly events: EventSink;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly settings: PresenceSettings;
  /** This node's open authenticated connections; the database mirrors it (retried on failure). */
  private readonly local = new Map<string, LocalConnection>();
  /** Closes whose removal failed: retried on each heartbeat. */
  private readonly unrecordedCloses = new Map<string, string>();
  /** Per-connection queue, so a close is never recorded before its open. */
  private readonly chains = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private started = false;

  constructor(deps: {
    repo: PresenceRepository;
    events: EventSink;
    clock: Clock;
    logger: Logger;
    settings: PresenceSettings;
  }) {
    this.repo = deps.repo;
    this.events = deps.events;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.settings = deps.settings;
  }

  /** Registers this node and starts its heartbeat. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.repo.upsertNode(this.nodeId, this.clock.now());
    this.timer = setInterval(() => {
      this.beating ??= this.heartbeat().finally(() => {
        this.beating = undefined;
      });
    }, this.settings.heartbeatSeconds * 1000);
    this.timer.unref();
  }

  /**
   * Graceful stop, after the sockets were closed: records the closes still queued, then takes this
   * node's remaining connections offline at once (no need to wait for the TTL) and removes the node.
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
    await Promise.allSettled([...this.chains.values()]);
    if (!this.started) return;
    this.started = false;
    try {
      await this.sweepNode(this.nodeId, 'disconnected');
    } catch (error) {
      this.logger.warn({ err: error }, 'presence: could not remove this node; the sweep will');
    }
  }

  /** The WebSocket server's hook. Never throws: presence must not break a connection. */
  connectionChanged(change: ConnectionChange): void {
    if (change.type === 'opened') {
      this.local.set(change.connectionId, { userId: change.userId, recorded: false });
      this.enqueue(change.connectionId, () => this.recordOpen(change.connectionId));
    } else {
      const connection = this.local.get(change.connectionId);
      this.local.delete(change.connectionId);
      // Runs after the open in the queue: an open that was skipped or failed left nothing to remove.
      this.enqueue(change.connectionId, async () => {
        if (connection?.recorded) await this.recordClose(change.connectionId, change.userId);
      });
    }
  }

  /** Resolves when every open and close handed to `connectionChanged` so far is recorded (tests). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.chains.values()]);
  }

  async isOnline(userId: string): Promise<boolean> {
    const [status] = await this.repo.findStatuses([userId]);
    return status?.online ?? false;
  }

  /** Online and available: what the calls domain checks before ringing a streamer. */
  async isAvailableForCalls(userId: string): Promise<boolean> {
    const [status] = await this.repo.findStatuses([userId]);
    return status !== undefined && effectiveAvailability(status) === 'available';
  }

  /** One entry per distinct id, in the order given; an unknown id reads as offline. */
  async getPresence(userIds: readonly string[], tx?: Tx): Promise<PresenceView[]> {
    const ids = [...new Set(parseOrThrow(userIdsSchema, userIds, 'userIds'))];
    // In the caller's transaction when given: a second pooled connection per transaction can exhaust the pool.
    const rows = new Map((await this.repo.findStatuses(ids, tx)).map((s) => [s.userId, s]));
    return ids.map((id) => view(id, rows.get(id)));
  }

  /** Validates a watch list (the presenceChanged subscription). */
  parseWatchList(userIds: readonly string[]): Set<string> {
    return new Set(parseOrThrow(userIdsSchema, userIds, 'userIds'));
  }

  /**
   * Sets the stored availability. Pass `tx` to do it in the caller's transaction (the calls domain
   * marking a streamer busy together with the call). Emits user_availability_changed when it changed.
   */
  async setAvailability(userId: string, availability: Availability, tx?: Tx): Promise<PresenceView> {
    const value = parseOrThrow(availabilitySchema, availability, 'availability');
    const work = async (t: Tx) => {
      const status = await this.repo.lockStatus(t, userId);
      if (status.availability !== value) {
        await this.repo.setAvailability(t, userId, value, this.clock.now());
        await this.events.emit(
          t,
          userAvailabilityChanged.event(
            { userId, availability: value, previous: status.availability },
            { userId },
          ),
        );
      }
      return view(userId, { ...status, availability: value });
    };
    return tx ? work(tx) : withTransaction(this.repo.db, work);
  }

  /**
   * Removes the connections of every node whose heartbeat is older than the TTL (and of nodes with no
   * row), taking their users offline where no other connection is left. Safe to run on several nodes.
   */
  async sweep(): Promise<{ nodes: number; wentOffline: number }> {
    const cutoff = new Date(this.clock.now().getTime() - this.settings.ttlSeconds * 1000);
    const nodes = [...new Set([...(await this.repo.staleNodes(cutoff)), ...(await this.repo.orphanNodes())])];
    let wentOffline = 0;
    for (const nodeId of nodes) wentOffline += await this.sweepNode(nodeId, 'node_expired', cutoff);
    return { nodes: nodes.length, wentOffline };
  }

  private async sweepNode(
    nodeId: string,
    reason: 'disconnected' | 'node_expired',
    cutoff?: Date,
  ): Promise<number> {
    // The node's row goes first: if the node was only paused, its next heartbeat finds the row gone
    // and records its connections again, whatever this sweep removes below.
    await this.repo.deleteNode(this.repo.db, nodeId, cutoff);
    let wentOffline = 0;
    // One transaction per user: each takes only that user's status lock, so sweeps never deadlock
    // with connects, and a sweep interrupted half-way is finished by the next one.
    for (const userId of await this.repo.usersOnNode(nodeId)) {
      const offline = await withTransaction(this.repo.db, async (tx) => {
        const status = await this.repo.lockStatus(tx, userId);
        // A node that beat again (or registered again) keeps its connections: it re-records them
        // under this same lock after its row is back, so none of those is deleted here.
        if (await this.repo.nodeExists(tx, nodeId)) return false;
        await this.repo.deleteUserConnectionsOnNode(tx, userId, nodeId);
        return this.goOfflineIfLast(tx, status, reason);
      });
      if (offline) wentOffline++;
    }
    return wentOffline;
  }

  private enqueue(connectionId: string, work: () => Promise<void>): void {
    const next = (this.chains.get(connectionId) ?? Promise.resolve())
      .then(work)
      .catch((error: unknown) => this.logger.error({ err: error, connectionId }, 'presence update failed'))
      .finally(() => {
        if (this.chains.get(connectionId) === next) this.chains.delete(connectionId);
      });
    this.chains.set(connectionId, next);
  }

  private async recordOpen(connectionId: string): Promise<void> {
    const connection = this.local.get(connectionId);
    // Closed before we got to it: recording it would only produce an online/offline pair.
    if (!connection || connection.recorded) return;
    const now = this.clock.now();
    await withTransaction(this.repo.db, async (tx) => {
      const status = await this.repo.lockStatus(tx, connection.userId);
      await this.repo.insertConnection(tx, {
        connectionId,
        nodeId: this.nodeId,
        userId: connection.userId,
        openedAt: now,
      });
      if (!status.online) {
        await this.repo.setOnline(tx, connection.userId, now);
        await this.events.emit(
          tx,
          userCameOnline.event(
            { userId: connection.userId, onlineSince: now.toISOString() },
            { userId: connection.userId },
          ),
        );
      }
    });
    connection.recorded = true;
  }

  private async recordClose(connectionId: string, userId: string): Promise<void> {
    try {
      await withTransaction(this.repo.db, async (tx) => {
        const status = await this.repo.lockStatus(tx, userId);
        await this.repo.deleteConnection(tx, connectionId);
        await this.goOfflineIfLast(tx, status, 'disconnected');
      });
      this.unrecordedCloses.delete(connectionId);
    } catch (error) {
      this.unrecordedCloses.set(connectionId, userId);
      throw error;
    }
  }

  private async goOfflineIfLast(
    tx: Tx,
    status: StatusRow,
    reason: 'disconnected' | 'node_expired',
  ): Promise<boolean> {
    if (!status.online || (await this.repo.hasConnections(tx, status.userId))) return false;
    const now = this.clock.now();
    await this.repo.setOffline(tx, status.userId, now);
    await this.events.emit(
      tx,
      userWentOffline.event(
        {
          userId: status.userId,
          onlineSince: (status.onlineSince ?? now).toISOString(),
          lastSeenAt: now.toISOString(),
          reason,
        },
        { userId: status.userId },
      ),
    );
    return true;
  }

  /**
   * Refreshes this node's row. If a sweep removed it (this process was paused past the TTL), the node
   * registers again and records its open connections again. Failed opens and closes are retried here.
   */
  private async heartbeat(): Promise<void> {
    try {
      const now = this.clock.now();
      if (!(await this.repo.heartbeat(this.nodeId, now))) {
        this.logger.warn(
          { nodeId: this.nodeId },
          'presence: node was swept; recording its connections again',
        );
        await this.repo.upsertNode(this.nodeId, now);
        for (const connection of this.local.values()) connection.recorded = false;
      }
      for (const [connectionId, connection] of this.local) {
        if (!connection.recorded) this.enqueue(connectionId, () => this.recordOpen(connectionId));
      }
      for (const [connectionId, userId] of this.unrecordedCloses) {
        if (!this.chains.has(connectionId))
          this.enqueue(connectionId, () => this.recordClose(connectionId, userId));
      }
    } catch (error) {
      this.logger.error({ err: error }, 'presence heartbeat failed');
    }
  }
}
