import {
  type AnalyticsDestination,
  type AnalyticsEvent,
  type DeliveryAnswer,
  type DeliveryItem,
  postJson,
} from './analytics.destination.ts';

export type Ga4Config = {
  apiSecret: string;
  baseUrl: string;
} & (
  | { firebaseAppId: string; measurementId?: undefined }
  | { measurementId: string; firebaseAppId?: undefined }
);

/**
 * Google Analytics 4 Measurement Protocol: POST {base}/mp/collect?…&api_secret=…. For a Firebase app
 * stream (`firebase_app_id`) the body names the device's `app_instance_id` (the app reports it with
 * its attribution; without it the event is skipped); for a web/data stream (`measurement_id`) a
 * `client_id` derived from the user id. `transaction_id` dedups purchases in GA4.
 */
export class Ga4MeasurementDestination implements AnalyticsDestination {
  readonly name = 'ga4' as const;
  readonly maxBatch = 1;
  private readonly config: Ga4Config;

  constructor(config: Ga4Config) {
    this.config = config;
  }

  accepts(event: AnalyticsEvent): boolean {
    return event.name === 'purchase';
  }

  async send(items: DeliveryItem[], signal: AbortSignal): Promise<DeliveryAnswer> {
    const [item] = items;
    if (!item || items.length !== 1) throw new Error('GA4 takes one user per request');
    const { event, user } = item;
    const base = `${this.config.baseUrl.replace(/\/$/, '')}/mp/collect`;
    const stream = this.config.firebaseAppId
      ? `firebase_app_id=${encodeURIComponent(this.config.firebaseAppId)}`
      : `measurement_id=${encodeURIComponent(this.config.measurementId ?? '')}`;
    const identity: Record<string, string> = this.config.firebaseAppId
      ? user.appInstanceId
        ? { app_instance_id: user.appInstanceId }
        : {}
      : { client_id: `olo.${event.userId}` };
    if (Object.keys(identity).length === 0) {
      return {
        outcome: 'skipped',
        httpStatus: null,
        request: null,
        response: 'no app_instance_id for the user',
      };
    }
    const body = {
      ...identity,
      user_id: event.userId,
      timestamp_micros: new Date(event.occurredAt).getTime() * 1000,
      events: [
        {
          name: 'purchase',
          params: {
            // An unknown price is left out rather than reported as 0 USD of revenue.
            ...(event.revenue ? { currency: event.revenue.currency, value: event.revenue.amount } : {}),
            transaction_id:
              typeof event.properties.purchaseId === 'string' ? event.properties.purchaseId : event.eventId,
            items: [
              {
                item_id: typeof event.properties.sku === 'string' ? event.properties.sku : 'coins',
                quantity: 1,
              },
            ],
          },
        },
      ],
    };
    return postJson(`${base}?${stream}&api_secret=${encodeURIComponent(this.config.apiSecret)}`, body, {
      signal,
      redactedUrl: `${base}?${stream}&api_secret=***`,
    });
  }
}
