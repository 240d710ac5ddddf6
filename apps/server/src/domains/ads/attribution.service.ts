import { z } from 'zod';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { badInput } from '../../platform/errors/app-error.ts';
import type { AttributionSource, AttStatus } from './ads.tables.ts';
import type {
  Attribution,
  AttributionInput,
  AttributionRepository,
  Consent,
} from './attribution.repository.ts';
import type { DeliveryService } from './delivery.service.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_RAW_BYTES = 16_384;

/** AppsFlyer times: "2024-01-15 10:20:30.123" in UTC (conversion data, Push API), or ISO 8601. */
export function parseAppsflyerTime(value: unknown): Date | null {
  if (typeof value !== 'string' || value.trim() === '') return null;
  let text = value.trim().replace(' ', 'T');
  if (!/[zZ]|[+-]\d\d:?\d\d$/.test(text)) text += 'Z';
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date;
}

const str = (value: unknown): string | null =>
  typeof value === 'string' && value.trim() !== '' && value !== 'null' ? value.trim().slice(0, 300) : null;

/** The fields of AppsFlyer conversion data (SDK) and Push API messages, which share their names. */
export function attributionFrom(
  source: AttributionSource,
  raw: Record<string, unknown>,
  extra: { appsflyerId?: string | null; platform?: 'ios' | 'android' | null; appInstanceId?: string | null },
): AttributionInput {
  const mediaSource = str(raw.media_source) ?? str(raw.pid);
  const status = str(raw.af_status);
  const isOrganic = status ? status.toLowerCase() === 'organic' : !mediaSource || mediaSource === 'organic';
  const platform =
    extra.platform ?? (raw.platform === 'ios' || raw.platform === 'android' ? raw.platform : null);
  return {
    source,
    mediaSource: isOrganic ? (mediaSource ?? 'organic') : mediaSource,
    campaign: str(raw.campaign) ?? str(raw.c),
    adset: str(raw.af_adset) ?? str(raw.adset),
    ad: str(raw.af_ad) ?? str(raw.ad),
    isOrganic,
    clickTime: parseAppsflyerTime(raw.click_time ?? raw.attributed_touch_time),
    installTime: parseAppsflyerTime(raw.install_time),
    appsflyerId: extra.appsflyerId ?? str(raw.appsflyer_id),
    platform,
    appInstanceId: extra.appInstanceId ?? null,
    raw,
  };
}

/** The Push API message types that carry an install's attribution; in-app events are ignored here. */
const ATTRIBUTION_EVENTS = new Set([
  'install',
  're-attribution',
  'reinstall',
  're-engagement',
  'organic-install',
]);

export const pushSchema = z
  .object({
    customer_user_id: z.string().optional().nullable(),
    appsflyer_id: z.string().optional().nullable(),
    event_name: z.string().optional().nullable(),
  })
  .passthrough();

/**
 * Attribution intake and tracking consent. One current attribution per account (the latest report
 * wins; the first install time is kept, and values a later report lacks), every report in the
 * history. Deliveries that waited for the attribution (AppsFlyer without an AppsFlyer id) are
 * resumed in the same transaction.
 */
export class AttributionService {
  private readonly deps: {
    db: Db;
    repo: AttributionRepository;
    clock: Clock;
    deliveries: Pick<DeliveryService, 'resumeWaiting'>;
  };

  constructor(deps: AttributionService['deps']) {
    this.deps = deps;
  }

  /** The conversion data the AppsFlyer SDK handed the app after install (onConversionDataSuccess). */
  async reportFromClient(
    userId: string,
    input: {
      conversionData: Record<string, unknown>;
      appsflyerId: string | null;
      platform: 'ios' | 'android' | null;
      appInstanceId: string | null;
    },
  ): Promise<Attribution> {
    if (JSON.stringify(input.conversionData).length > MAX_RAW_BYTES) {
      throw badInput('conversionData is too large', { field: 'conversionData' });
    }
    const attribution = attributionFrom('client', input.conversionData, input);
    return this.record(userId, attribution);
  }

  /**
   * A Push API message (already authenticated). The app sets AppsFlyer's customer user id to our user
   * id after sign-in; messages without one (or for in-app events) are acknowledged and ignored.
   */
  async recordPush(
    body: z.infer<typeof pushSchema>,
  ): Promise<'recorded' | 'ignored:no_user' | 'ignored:event'> {
    const eventName = (body.event_name ?? 'install').toLowerCase();
    if (!ATTRIBUTION_EVENTS.has(eventName)) return 'ignored:event';
    const userId = body.customer_user_id?.trim();
    if (!userId || !UUID.test(userId)) return 'ignored:no_user';
    const attribution = attributionFrom('appsflyer_push', body as Record<string, unknown>, {});
    await this.record(userId.toLowerCase(), attribution);
    return 'recorded';
  }

  private record(userId: string, attribution: AttributionInput): Promise<Attribution> {
    return withTransaction(this.deps.db, async (tx) => {
      const current = await this.deps.repo.record(tx, userId, attribution, this.deps.clock.now());
      await this.deps.deliveries.resumeWaiting(tx, userId);
      return current;
    });
  }

  current(userId: string) {
    return this.deps.repo.current(userId);
  }

  history(userId: string) {
    return this.deps.repo.history(userId);
  }

  search(
    filter: { mediaSource?: string | undefined; campaign?: string | undefined },
    limit: number,
    after: { at: Date; userId: string } | undefined,
  ) {
    return this.deps.repo.search(filter, limit, after);
  }

  consent(userId: string): Promise<Consent> {
    return this.deps.repo.consent(userId);
  }

  /** The user's choice (opt-out) and the app's ATT answer; either can refuse tracking. */
  setConsent(userId: string, input: { optedOut?: boolean | undefined; attStatus?: AttStatus | undefined }) {
    if (input.optedOut === undefined && input.attStatus === undefined) {
      throw badInput('Give optedOut, attStatus or both', { field: 'optedOut' });
    }
    return this.deps.repo.setConsent(userId, input, this.deps.clock.now());
  }

  dailyReport(from: Date, to: Date) {
    return this.deps.repo.daily(from, to);
  }
}
