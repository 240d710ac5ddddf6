import {
  type AnalyticsDestination,
  type AnalyticsEvent,
  type DeliveryAnswer,
  type DeliveryItem,
  postJson,
} from './analytics.destination.ts';

const CHARTED: ReadonlySet<AnalyticsEvent['name']> = new Set([
  'sign_up',
  'onboarding_completed',
  'purchase',
  'gift_sent',
  'call_started',
  'call_ended',
]);

/**
 * Amplitude HTTP API V2: POST {base}/2/httpapi with `{ api_key, events: […] }`, up to 100 events a
 * request. `insert_id` (the event id) makes Amplitude drop a resent event within its dedup window.
 */
export class AmplitudeDestination implements AnalyticsDestination {
  readonly name = 'amplitude' as const;
  readonly maxBatch = 100;
  private readonly config: { apiKey: string; baseUrl: string };

  constructor(config: { apiKey: string; baseUrl: string }) {
    this.config = config;
  }

  accepts(event: AnalyticsEvent): boolean {
    return CHARTED.has(event.name);
  }

  async send(items: DeliveryItem[], signal: AbortSignal): Promise<DeliveryAnswer> {
    const url = `${this.config.baseUrl.replace(/\/$/, '')}/2/httpapi`;
    const events = items.map(({ event, user }) => ({
      user_id: event.userId,
      event_type: event.name,
      time: new Date(event.occurredAt).getTime(),
      insert_id: event.eventId,
      event_properties: event.properties,
      ...(user.platform ? { platform: user.platform === 'ios' ? 'iOS' : 'Android' } : {}),
      ...(event.revenue
        ? {
            price: event.revenue.amount,
            quantity: 1,
            revenue: event.revenue.amount,
            currency: event.revenue.currency,
            ...(typeof event.properties.sku === 'string' ? { productId: event.properties.sku } : {}),
          }
        : {}),
    }));
    const answer = await postJson(url, { api_key: this.config.apiKey, events }, { signal });
    // The request carries the API key in its body: keep it out of the attempt log.
    return { ...answer, request: answer.request?.replace(this.config.apiKey, '***') ?? null };
  }
}
