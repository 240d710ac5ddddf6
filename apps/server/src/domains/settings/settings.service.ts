import type { DocumentNode } from 'graphql';
import { z } from 'zod';
import { TtlCache } from '../../platform/cache/ttl-cache.ts';
import type { Clock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { AppError, badInput } from '../../platform/errors/app-error.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import type { PubSub } from '../../platform/realtime/pubsub.ts';
import type { AuditActor, AuditLog } from '../mission_control/audit-log.ts';
import { onlyReadsSettings } from './client-version-gate.ts';
import { compareSemver, isSemver } from './semver.ts';
import {
  CLIENT_PLATFORMS,
  type ClientPlatform,
  isSettingKey,
  minVersionKey,
  SETTING_KEYS,
  type SettingKey,
  type SettingValue,
  type SettingValues,
  settingDefinitions,
} from './settings.definitions.ts';
import type { SettingChange, SettingsRepository } from './settings.repository.ts';

/** Topic on the pubsub that tells every node to drop its cached settings. */
export const SETTINGS_CHANGED_CHANNEL = 'system:settings-changed';

// Backstop for a lost invalidation message (the memory pubsub does not cross processes): a change
// is seen everywhere within this long even then.
const CACHE_TTL_MS = 30_000;

export type SettingEntry = {
  key: SettingKey;
  value: unknown;
  description: string;
  /** 0 while the key still has its default. */
  version: number;
  updatedAt: Date | null;
};

type Snapshot = { values: SettingValues; entries: SettingEntry[] };

const reasonSchema = z.string().trim().min(3, 'reason must say why (at least 3 characters)').max(500);

/** What a client says it is, from x-client-platform and x-client-version. */
export type ClientVersion = { platform: ClientPlatform; version: string };

/**
 * Global settings. Reads come from an in-process snapshot, dropped on every change here and, through
 * the pubsub, on every other node. Writes are validated by the key's schema, versioned and audited.
 */
export class SettingsService {
  private readonly repo: SettingsRepository;
  private readonly audit: AuditLog;
  private readonly pubsub: PubSub;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly cache: TtlCache<Snapshot>;
  private last: Snapshot | undefined;

  constructor(deps: {
    repo: SettingsRepository;
    audit: AuditLog;
    pubsub: PubSub;
    clock: Clock;
    logger: Logger;
  }) {
    this.repo = deps.repo;
    this.audit = deps.audit;
    this.pubsub = deps.pubsub;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.cache = new TtlCache({ ttlMs: CACHE_TTL_MS, maxEntries: 1, clock: deps.clock });
  }

  /** The current value of one setting, typed by its key. */
  async get<K extends SettingKey>(key: K): Promise<SettingValue<K>> {
    const snapshot = await this.snapshot();
    return snapshot.values[key];
  }

  /** Every setting with its value, version and meaning. */
  async list(): Promise<SettingEntry[]> {
    return (await this.snapshot()).entries;
  }

  async set(actor: AuditActor, key: string, value: unknown, reason: string): Promise<SettingEntry> {
    if (!isSettingKey(key)) throw badInput(`Unknown setting ${key}`, { field: 'key' });
    const parsed = settingDefinitions[key].schema.safeParse(value);
    if (!parsed.success) {
      throw badInput(`${key}: ${parsed.error.issues[0]?.message ?? 'invalid value'}`, { field: 'value' });
    }
    const why = reasonSchema.safeParse(reason);
    if (!why.success)
      throw badInput(why.error.issues[0]?.message ?? 'reason is not valid', { field: 'reason' });
    const at = this.clock.now();
    const by = actor.principal?.userId ?? null;
    const version = await withTransaction(this.repo.db, async (tx) => {
      const current = await this.repo.lock(tx, key);
      const before = current ? current.value : settingDefinitions[key].default;
      const next = (current?.version ?? 0) + 1;
      await this.repo.write(tx, { key, before, after: parsed.data, version: next, by, reason: why.data, at });
      await this.audit.record(tx, actor, {
        action: 'settings.changed',
        targetType: 'setting',
        targetId: key,
        before: { value: before, version: next - 1 },
        after: { value: parsed.data, version: next },
        reason: why.data,
      });
      return next;
    });
    await this.refresh();
    await this.pubsub.publish(SETTINGS_CHANGED_CHANNEL, { key }).catch((error: unknown) => {
      // The change is committed; other nodes still see it when their cache expires.
      this.logger.warn({ err: error, key }, 'settings change not broadcast');
    });
    return {
      key,
      value: parsed.data,
      description: settingDefinitions[key].description,
      version,
      updatedAt: at,
    };
  }

  async history(key: string, limit: number, before: bigint | undefined): Promise<SettingChange[]> {
    if (!isSettingKey(key)) throw badInput(`Unknown setting ${key}`, { field: 'key' });
    return this.repo.history(key, limit, before);
  }

  /** Drops this node's snapshot; the next read loads the settings again. */
  invalidate(): void {
    this.cache.clear();
  }

  /** Drops the snapshot whenever any node changes a setting, until `signal` aborts. */
  async listen(signal: AbortSignal): Promise<void> {
    const messages = await this.pubsub.subscribe(SETTINGS_CHANGED_CHANNEL, signal);
    void (async () => {
      for await (const _message of messages) this.invalidate();
    })();
  }

  /**
   * UPDATE_REQUIRED when the client's version is below its platform's minimum. A client that sends
   * neither header passes (browsers and tools); one header without the other, an unknown platform
   * or a version that is not semver is a bad request.
   */
  async checkClient(client: ClientVersion | null): Promise<AppError | null> {
    if (!client) return null;
    const minimum = await this.get(minVersionKey(client.platform));
    if (typeof minimum !== 'string' || compareSemver(client.version, minimum) >= 0) return null;
    return new AppError(
      'UPDATE_REQUIRED',
      `This app version is no longer supported; update to ${minimum} or later`,
      {
        platform: client.platform,
        minimumVersion: minimum,
      },
    );
  }

  /**
   * The one check of the client's version, run before every operation over HTTP (preExecution hook)
   * and WebSocket (onSubscribe): the error to answer with, or null to go ahead. Reading only
   * `settings` is always allowed, so an outdated app can learn the minimum version.
   */
  async clientVersionError(
    platform: unknown,
    version: unknown,
    document: DocumentNode,
  ): Promise<AppError | null> {
    const client = parseClientVersion(platform, version);
    if (client === null || onlyReadsSettings(document)) return null;
    if (client instanceof AppError) return client;
    return this.checkClient(client);
  }

  /**
   * Once a snapshot was loaded, reads never wait on the database: they get the last snapshot while a
   * fresh one loads. Reads happen inside other domains' transactions (the ledger reads its settings
   * while holding row locks), and a read that needed a second pooled connection there could wait
   * forever on a full pool.
   */
  private snapshot(): Promise<Snapshot> {
    const loading = this.load();
    if (!this.last) return loading;
    loading.catch((error: unknown) =>
      this.logger.warn({ err: error }, 'settings reload failed; serving the last'),
    );
    return Promise.resolve(this.last);
  }

  /** Loads the settings now (start-up, and after a change on this node so it reads its own write). */
  async refresh(): Promise<void> {
    this.cache.clear();
    await this.load();
  }

  private load(): Promise<Snapshot> {
    return this.cache.getOrLoad('all', async () => {
      const stored = new Map((await this.repo.all()).map((s) => [s.key, s]));
      const values: Record<string, unknown> = {};
      const entries: SettingEntry[] = [];
      for (const key of SETTING_KEYS) {
        const definition = settingDefinitions[key];
        const row = stored.get(key);
        // A stored value a newer schema no longer accepts falls back to the default rather than failing reads.
        const parsed = row ? definition.schema.safeParse(row.value) : undefined;
        const usable = parsed?.success === true;
        if (row && !usable) this.logger.error({ key }, 'stored setting fails its schema; using the default');
        const value = usable ? parsed.data : definition.default;
        values[key] = value;
        entries.push({
          key,
          value,
          description: definition.description,
          version: row?.version ?? 0,
          updatedAt: row?.updatedAt ?? null,
        });
      }
      const snapshot = { values: values as SettingValues, entries };
      this.last = snapshot;
      return snapshot;
    });
  }
}

/**
 * Reads the client's platform and version from headers (HTTP) or connection_init params (WebSocket).
 * Returns null when neither is sent, an AppError for malformed values.
 */
export function parseClientVersion(platform: unknown, version: unknown): ClientVersion | null | AppError {
  if (platform === undefined && version === undefined) return null;
  if (typeof platform !== 'string' || !(CLIENT_PLATFORMS as readonly string[]).includes(platform)) {
    return new AppError('BAD_REQUEST', `x-client-platform must be one of ${CLIENT_PLATFORMS.join(', ')}`);
  }
  if (typeof version !== 'string' || !isSemver(version)) {
    return new AppError('BAD_REQUEST', 'x-client-version must be a semantic version such as 2.4.0');
  }
  return { platform: platform as ClientPlatform, version };
}
