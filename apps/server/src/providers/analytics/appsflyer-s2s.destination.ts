import {
  type AnalyticsDestination,
  type AnalyticsEvent,
  type DeliveryAnswer,
  type DeliveryItem,
  postJson,
  type UserContext,
} from './analytics.destination.ts';

const EVENT_NAMES: Partial<Record<AnalyticsEvent['name'], string>> = {
  sign_up: 'af_complete_registration',
  purchase: 'af_purchase',
  call_started: 'first_call',
};

const ATT_CODES = { not_determined: 0, restricted: 1, denied: 2, authorized: 3 } as const;

/** AppsFlyer's eventTime: "yyyy-MM-dd HH:mm:ss.SSS" in UTC. */
export function appsflyerTime(iso: string): string {
  return new Date(iso).toISOString().replace('T', ' ').replace('Z', '');
}

/**
 * AppsFlyer server-to-server in-app events: POST {base}/inappevent/{appId} with the S2S token in the
 * `authentication` header (api3; api2 took the SDK dev key there). One event per request, attributed
 * through the install's `appsflyer_id`: without it AppsFlyer cannot attribute the event, so the
 * delivery waits for the attribution that brings it. AppsFlyer has no dedup key for S2S events, so
 * `af_order_id`/`olo_event_id` are sent for reconciliation and our delivery state machine is what
 * keeps an event from being sent twice.
 */
export class AppsflyerS2sDestination implements AnalyticsDestination {
  readonly name = 'appsflyer' as const;
  readonly maxBatch = 1;
  private readonly config: { appId: string; s2sToken: string; baseUrl: string };

  constructor(config: { appId: string; s2sToken: string; baseUrl: string }) {
    this.config = config;
  }

  accepts(event: AnalyticsEvent): boolean {
    if (event.name === 'call_started') return event.properties.firstCall === true;
    return EVENT_NAMES[event.name] !== undefined;
  }

  waitsFor(user: UserContext): string | null {
    return user.appsflyerId ? null : 'appsflyer_id';
  }

  async send(items: DeliveryItem[], signal: AbortSignal): Promise<DeliveryAnswer> {
    const [item] = items;
    if (!item || items.length !== 1) throw new Error('AppsFlyer takes one event per request');
    const { event, user } = item;
    // The sender waits for the id (waitsFor); this only guards a direct call.
    if (!user.appsflyerId) {
      return {
        outcome: 'skipped',
        httpStatus: null,
        request: null,
        response: 'no appsflyer_id for the user',
      };
    }
    const value: Record<string, string | number> = { olo_event_id: event.eventId };
    if (event.revenue) {
      value.af_revenue = event.revenue.amount;
      value.af_currency = event.revenue.currency;
    }
    if (typeof event.properties.purchaseId === 'string') value.af_order_id = event.properties.purchaseId;
    if (typeof event.properties.sku === 'string') value.af_content_id = event.properties.sku;
    const body: Record<string, string | number> = {
      appsflyer_id: user.appsflyerId,
      customer_user_id: event.userId,
      eventName: EVENT_NAMES[event.name] ?? event.name,
      eventValue: JSON.stringify(value),
      eventTime: appsflyerTime(event.occurredAt),
      af_events_api: 'true',
    };
    if (event.revenue) body.eventCurrency = event.revenue.currency;
    if (user.platform === 'ios' && user.attStatus) body.att = ATT_CODES[user.attStatus];
    const url = `${this.config.baseUrl.replace(/\/$/, '')}/inappevent/${encodeURIComponent(this.config.appId)}`;
    return postJson(url, body, { signal, headers: { authentication: this.config.s2sToken } });
  }
}
