import { createPrivateKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { z } from 'zod';
import type { Clock } from '../../platform/clock.ts';
import {
  errorReason,
  type PushMessage,
  type PushProvider,
  type PushResult,
  type PushTarget,
  ttlSeconds,
} from './push.provider.ts';
import { encryptPayload } from './webpush-crypto.ts';

export type WebPushOptions = {
  /** The application server key pair (VAPID, RFC 8292), base64url: public 65-byte point, private 32 bytes. */
  vapidPublicKey: string;
  vapidPrivateKey: string;
  /** `mailto:` or `https:` contact for the push services. */
  subject: string;
  clock: Clock;
};

/** The browser's PushSubscription as JSON: what the web client registers as its token. */
export const subscriptionSchema = z.object({
  endpoint: z.url(),
  keys: z.object({ p256dh: z.string().min(1), auth: z.string().min(1) }),
});

const JWT_LIFETIME_SECONDS = 12 * 3600;

/** A P-256 private key from VAPID's raw base64url form (d), with its public point. */
export function vapidPrivateKey(publicKey: string, privateKey: string): KeyObject {
  const point = Buffer.from(publicKey, 'base64url');
  return createPrivateKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      d: privateKey,
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33, 65).toString('base64url'),
    },
    format: 'jwk',
  });
}

/**
 * Web Push: the payload encrypted for the subscription (RFC 8291), POSTed to its endpoint with a
 * VAPID JWT (RFC 8292) per push-service origin, cached for hours. TTL, Urgency and Topic (so a repeat
 * replaces an undelivered first copy) per RFC 8030.
 */
export class WebPushProvider implements PushProvider {
  readonly name = 'webpush';
  private readonly options: WebPushOptions;
  private readonly key: KeyObject;
  private readonly jwts = new Map<string, { token: string; expiresAt: number }>();

  constructor(options: WebPushOptions) {
    this.options = options;
    this.key = vapidPrivateKey(options.vapidPublicKey, options.vapidPrivateKey);
  }

  redelivery(): 'at_least_once' {
    // Topic makes the push service replace a still-queued copy; the client dedupes by notificationId.
    return 'at_least_once';
  }

  async send(target: PushTarget, message: PushMessage): Promise<PushResult> {
    let subscription: z.infer<typeof subscriptionSchema>;
    try {
      subscription = subscriptionSchema.parse(JSON.parse(target.token));
    } catch {
      return { outcome: 'invalid_token', reason: 'not a PushSubscription JSON' };
    }
    const payload = Buffer.from(
      JSON.stringify({
        notificationId: message.notificationId,
        kind: message.kind,
        title: message.title,
        body: message.body,
        data: message.data,
      }),
    );
    try {
      const body = encryptPayload(
        payload,
        Buffer.from(subscription.keys.p256dh, 'base64url'),
        Buffer.from(subscription.keys.auth, 'base64url'),
      );
      const response = await fetch(subscription.endpoint, {
        method: 'POST',
        headers: {
          authorization: `vapid t=${await this.jwt(new URL(subscription.endpoint).origin)}, k=${this.options.vapidPublicKey}`,
          'content-encoding': 'aes128gcm',
          'content-type': 'application/octet-stream',
          ttl: String(ttlSeconds(message.expiresAt, this.options.clock.now())),
          urgency: message.priority === 'high' ? 'high' : 'normal',
          // At most 32 base64url characters: the id without dashes is exactly that.
          topic: message.notificationId.replaceAll('-', ''),
        },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer();
      if (response.status === 201 || response.ok) {
        return {
          outcome: 'sent',
          ...(response.headers.get('location') ? { providerId: response.headers.get('location') ?? '' } : {}),
        };
      }
      const reason = `HTTP ${response.status}`;
      if (response.status === 404 || response.status === 410) return { outcome: 'invalid_token', reason };
      if (response.status === 429 || response.status >= 500) return { outcome: 'retry', reason };
      return { outcome: 'failed', reason };
    } catch (error) {
      return { outcome: 'retry', reason: errorReason(error) };
    }
  }

  private async jwt(audience: string): Promise<string> {
    const now = Math.floor(this.options.clock.now().getTime() / 1000);
    const cached = this.jwts.get(audience);
    if (cached && cached.expiresAt - 3600 > now) return cached.token;
    const expiresAt = now + JWT_LIFETIME_SECONDS;
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
      .setAudience(audience)
      .setExpirationTime(expiresAt)
      .setSubject(this.options.subject)
      .sign(this.key);
    this.jwts.set(audience, { token, expiresAt });
    return token;
  }
}
