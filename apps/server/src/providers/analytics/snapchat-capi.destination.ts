import {
  type AnalyticsDestination,
  type AnalyticsEvent,
  type DeliveryAnswer,
  type DeliveryItem,
  postJson,
} from './analytics.destination.ts';
import { hashEmail, hashIdentifier, hashPhone } from './identifier-hashing.ts';

const EVENT_NAMES: Partial<Record<AnalyticsEvent['name'], string>> = {
  sign_up: 'SIGN_UP',
  purchase: 'PURCHASE',
};

/**
 * Snapchat Conversions API v3 (app events): POST {base}/v3/{snapAppId}/events?access_token=…, body
 * `{ data: [event…] }`. Identifiers go as SHA-256 of their normalised form; `event_id` is Snapchat's
 * dedup key, so a resent event is counted once.
 */
export class SnapchatCapiDestination implements AnalyticsDestination {
  readonly name = 'snapchat' as const;
  readonly maxBatch = 50;
  private readonly config: { appId: string; accessToken: string; baseUrl: string };

  constructor(config: { appId: string; accessToken: string; baseUrl: string }) {
    this.config = config;
  }

  accepts(event: AnalyticsEvent): boolean {
    return EVENT_NAMES[event.name] !== undefined;
  }

  /** Snapchat answers 400 to a PURCHASE without custom_data currency and value: an unknown price is not sent. */
  refuses(event: AnalyticsEvent): string | null {
    return event.name === 'purchase' && !event.revenue ? 'purchase without a price' : null;
  }

  async send(items: DeliveryItem[], signal: AbortSignal): Promise<DeliveryAnswer> {
    const path = `${this.config.baseUrl.replace(/\/$/, '')}/v3/${encodeURIComponent(this.config.appId)}/events`;
    const body = { data: items.map(toSnapEvent) };
    return postJson(`${path}?access_token=${encodeURIComponent(this.config.accessToken)}`, body, {
      signal,
      redactedUrl: `${path}?access_token=***`,
    });
  }
}

/**
 * Only users who did not refuse tracking are ever sent, but "enabled" is claimed only when known: ATT
 * 'authorized', or an Android device (no ATT). An unknown platform may be an iOS device that was never
 * asked, so it counts as not enabled.
 */
function trackingEnabled(user: DeliveryItem['user']): 0 | 1 {
  if (user.attStatus === 'authorized') return 1;
  return user.platform === 'android' && user.attStatus === null ? 1 : 0;
}

function toSnapEvent({ event, user }: DeliveryItem) {
  const userData: Record<string, string[]> = { external_id: [hashIdentifier(event.userId)] };
  if (user.email) userData.em = [hashEmail(user.email)];
  if (user.phone) userData.ph = [hashPhone(user.phone)];
  return {
    event_name: EVENT_NAMES[event.name],
    event_time: Math.floor(new Date(event.occurredAt).getTime() / 1000),
    event_id: event.eventId,
    action_source: 'MOBILE_APP',
    user_data: userData,
    app_data: { advertiser_tracking_enabled: trackingEnabled(user) },
    ...(event.revenue
      ? {
          custom_data: {
            currency: event.revenue.currency,
            value: String(event.revenue.amount),
            ...(typeof event.properties.purchaseId === 'string'
              ? { order_id: event.properties.purchaseId }
              : {}),
          },
        }
      : {}),
  };
}
