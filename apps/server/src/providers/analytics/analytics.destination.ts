/**
 * One interface for every place product and ad events go: the local sink (default) and the vendors
 * (Snapchat Conversions API, AppsFlyer S2S, Amplitude HTTP V2, GA4 Measurement Protocol).
 */

export type DestinationName = 'sink' | 'snapchat' | 'appsflyer' | 'amplitude' | 'ga4';

/** The product events we report; `call_*` have no producer yet (the video domain does not exist). */
export type AnalyticsEventName =
  | 'sign_up'
  | 'onboarding_completed'
  | 'purchase'
  | 'gift_sent'
  | 'call_started'
  | 'call_ended';

export type AnalyticsEvent = {
  /** The event log's event id: stable across retries, the vendors' dedup key. */
  eventId: string;
  name: AnalyticsEventName;
  userId: string;
  /** ISO 8601. */
  occurredAt: string;
  /** Major units (e.g. 4.99) with an ISO 4217 currency, when the event carries money. */
  revenue: { amount: number; currency: string } | null;
  properties: Record<string, string | number | boolean | null>;
};

/** What the sender knows about the user when it sends (never stored in the delivery row). */
export type UserContext = {
  email: string | null;
  phone: string | null;
  appsflyerId: string | null;
  platform: 'ios' | 'android' | null;
  /** App Tracking Transparency: only 'authorized' lets an iOS device be tracked. */
  attStatus: 'authorized' | 'denied' | 'restricted' | 'not_determined' | null;
  /** Firebase Analytics' app instance id, reported by the app (GA4 Measurement Protocol for apps). */
  appInstanceId: string | null;
};

export type DeliveryItem = { event: AnalyticsEvent; user: UserContext };

/**
 * The result of one send. transient: 5xx, 429, 408, network error or time-out (retried with back-off);
 * permanent: any other 4xx (never retried); skipped: nothing to send (e.g. no AppsFlyer id).
 */
export type DeliveryAnswer = {
  outcome: 'sent' | 'transient' | 'permanent' | 'skipped';
  httpStatus: number | null;
  /** The request as sent, with credentials removed (identifiers are already hashed where required). */
  request: string | null;
  response: string;
};

export interface AnalyticsDestination {
  readonly name: DestinationName;
  /** How many items one `send` takes (1 for APIs without batches). */
  readonly maxBatch: number;
  /** Whether this destination wants the event at all. */
  accepts(event: AnalyticsEvent): boolean;
  /**
   * Why the vendor would refuse this event whatever we do (e.g. a Snapchat PURCHASE without a price),
   * or null. Such a delivery is recorded as skipped with the reason instead of sent to fail.
   */
  refuses?(event: AnalyticsEvent): string | null;
  /**
   * What the destination still has to learn about the user before it can send (e.g. the AppsFlyer
   * id, which arrives with the attribution), or null. Such a delivery waits and is resumed when the
   * user's attribution is recorded.
   */
  waitsFor?(user: UserContext): string | null;
  send(items: DeliveryItem[], signal: AbortSignal): Promise<DeliveryAnswer>;
}

const MAX_RESPONSE_CHARS = 2_000;

/** Classifies an HTTP status the way every vendor here documents it. */
export function outcomeOf(status: number): DeliveryAnswer['outcome'] {
  if (status >= 200 && status < 300) return 'sent';
  if (status === 408 || status === 429 || status >= 500) return 'transient';
  return 'permanent';
}

/** POSTs JSON; a network error or time-out is a transient answer, never a throw. */
export async function postJson(
  url: string,
  body: unknown,
  options: { headers?: Record<string, string>; signal: AbortSignal; redactedUrl?: string },
): Promise<DeliveryAnswer> {
  const text = JSON.stringify(body);
  const request = `POST ${options.redactedUrl ?? url}\n${text}`;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      body: text,
      signal: options.signal,
    });
    const answer = (await response.text()).slice(0, MAX_RESPONSE_CHARS);
    return { outcome: outcomeOf(response.status), httpStatus: response.status, request, response: answer };
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return {
      outcome: 'transient',
      httpStatus: null,
      request,
      response: message.slice(0, MAX_RESPONSE_CHARS),
    };
  }
}

/** Major units of a price in minor units (JPY has 0 digits, EUR 2, KWD 3). */
export function toMajorUnits(amountMinor: bigint, currency: string): number {
  let digits = 2;
  try {
    digits =
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ??
      2;
  } catch {
    // An unknown currency code: assume cents.
  }
  return Number(amountMinor) / 10 ** digits;
}
