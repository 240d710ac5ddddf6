/**
 * One push to one device. Every vendor adapter (FCM, OneSignal, APNs, Web Push) and the local outbox
 * implement `PushProvider`; the notification domain picks one per device token kind.
 */
export type PushTokenKind = 'fcm' | 'onesignal' | 'apns' | 'apns_voip' | 'webpush';

export type PushTarget = {
  tokenId: string;
  userId: string;
  kind: PushTokenKind;
  platform: 'ios' | 'android' | 'web';
  token: string;
};

export type PushMessage = {
  notificationId: string;
  kind: string;
  title: string;
  body: string;
  /** String values only: FCM data and APNs custom keys are strings on the device. */
  data: Record<string, string>;
  priority: 'high' | 'normal';
  /** After this the vendor should drop it (TTL, apns-expiration). */
  expiresAt: Date;
  /**
   * A call: iOS VoIP tokens get `apns-push-type: voip` on `<bundle>.voip`, FCM a data-only
   * high-priority message the app turns into its ringing screen.
   */
  call: boolean;
};

export type PushResult =
  | { outcome: 'sent'; providerId?: string }
  /** The vendor says the token is gone or never valid: the token is removed. */
  | { outcome: 'invalid_token'; reason: string }
  /** Worth trying again later (rate limit, vendor outage, network). */
  | { outcome: 'retry'; reason: string }
  /** Will not succeed as sent (bad payload, bad credentials). */
  | { outcome: 'failed'; reason: string };

/**
 * After a crash between "sending" and the result, whether the send is retried (at-least-once) or
 * given up as unknown (at-most-once). See docs/notifications.md.
 */
export type RedeliveryPolicy = 'at_least_once' | 'at_most_once';

export type PushProvider = {
  readonly name: string;
  /** Never throws for a vendor answer; network errors come back as `retry`. */
  send(target: PushTarget, message: PushMessage): Promise<PushResult>;
  redelivery(target: PushTarget, message: PushMessage): RedeliveryPolicy;
  close?(): Promise<void>;
};

export const errorReason = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).slice(0, 500) || 'error';

/** Seconds left until `expiresAt` (at least 0). */
export const ttlSeconds = (expiresAt: Date, now: Date): number =>
  Math.max(0, Math.floor((expiresAt.getTime() - now.getTime()) / 1000));
