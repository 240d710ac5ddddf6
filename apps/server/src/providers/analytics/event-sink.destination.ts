import type {
  AnalyticsDestination,
  AnalyticsEvent,
  DeliveryAnswer,
  DeliveryItem,
} from './analytics.destination.ts';

/**
 * The local default: events land in a table admins read (ads.sink_events), recorded once per event id.
 * It stores what a vendor would get, without contact details.
 */
export class EventSinkDestination implements AnalyticsDestination {
  readonly name = 'sink' as const;
  readonly maxBatch = 100;
  private readonly record: (events: AnalyticsEvent[]) => Promise<number>;

  constructor(record: (events: AnalyticsEvent[]) => Promise<number>) {
    this.record = record;
  }

  accepts(): boolean {
    return true;
  }

  async send(items: DeliveryItem[]): Promise<DeliveryAnswer> {
    const inserted = await this.record(items.map((i) => i.event));
    return { outcome: 'sent', httpStatus: null, request: null, response: `recorded ${inserted} new` };
  }
}
