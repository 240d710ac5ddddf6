import { createHash } from 'node:crypto';
import type { Clock } from '../../platform/clock.ts';
import {
  errorReason,
  type PushMessage,
  type PushProvider,
  type PushResult,
  type PushTarget,
  ttlSeconds,
} from './push.provider.ts';

export type OneSignalOptions = {
  appId: string;
  /** The app's REST API key. */
  apiKey: string;
  clock: Clock;
  /** https://api.onesignal.com, or a loopback server in tests. */
  apiUrl?: string;
};

type OneSignalAnswer = {
  id?: string;
  errors?: unknown;
};

/** A UUID derived from the (notification, device) pair: OneSignal drops a repeat within 30 days. */
export function idempotencyKey(notificationId: string, tokenId: string): string {
  const h = createHash('sha256').update(`${notificationId}:${tokenId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * OneSignal's REST API (`POST /notifications`) to one subscription id. OneSignal answers 200 even
 * when nothing was sent: `errors` (e.g. `invalid_player_ids`, "All included players are not
 * subscribed") or an empty `id` make it a failure. https://documentation.onesignal.com/reference/push-notification
 */
export class OneSignalProvider implements PushProvider {
  readonly name = 'onesignal';
  private readonly options: OneSignalOptions;

  constructor(options: OneSignalOptions) {
    this.options = options;
  }

  redelivery(): 'at_least_once' {
    // The idempotency_key makes OneSignal itself drop a repeat: resending after a crash is safe.
    return 'at_least_once';
  }

  async send(target: PushTarget, message: PushMessage): Promise<PushResult> {
    const body = {
      app_id: this.options.appId,
      include_subscription_ids: [target.token],
      idempotency_key: idempotencyKey(message.notificationId, target.tokenId),
      headings: { en: message.title },
      contents: { en: message.body },
      data: { ...message.data, notificationId: message.notificationId, kind: message.kind },
      priority: message.priority === 'high' ? 10 : 5,
      ttl: ttlSeconds(message.expiresAt, this.options.clock.now()),
      ...(message.call ? { content_available: true } : {}),
    };
    try {
      const response = await fetch(`${this.options.apiUrl ?? 'https://api.onesignal.com'}/notifications`, {
        method: 'POST',
        headers: {
          authorization: `Key ${this.options.apiKey}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const answer = parseAnswer(await response.text());
      if (response.status === 429 || response.status >= 500) {
        return { outcome: 'retry', reason: `HTTP ${response.status}` };
      }
      const invalid = invalidIds(answer.errors);
      if (invalid.includes(target.token))
        return { outcome: 'invalid_token', reason: 'invalid subscription id' };
      if (!response.ok)
        return { outcome: 'failed', reason: `HTTP ${response.status} ${describe(answer.errors)}` };
      if (answer.errors !== undefined && answer.errors !== null) {
        const reason = describe(answer.errors);
        // "All included players are not subscribed": the only recipient is gone.
        if (/not subscribed/i.test(reason)) return { outcome: 'invalid_token', reason };
        return { outcome: 'failed', reason };
      }
      if (!answer.id) return { outcome: 'failed', reason: 'no notification id in the answer' };
      return { outcome: 'sent', providerId: answer.id };
    } catch (error) {
      return { outcome: 'retry', reason: errorReason(error) };
    }
  }
}

function parseAnswer(text: string): OneSignalAnswer {
  try {
    return JSON.parse(text) as OneSignalAnswer;
  } catch {
    return { errors: [`unreadable answer: ${text.slice(0, 200)}`] };
  }
}

function invalidIds(errors: unknown): string[] {
  if (!errors || typeof errors !== 'object' || Array.isArray(errors)) return [];
  const e = errors as { invalid_player_ids?: unknown; invalid_subscription_ids?: unknown };
  return [e.invalid_player_ids, e.invalid_subscription_ids].flatMap((v) =>
    Array.isArray(v) ? v.map(String) : [],
  );
}

function describe(errors: unknown): string {
  if (Array.isArray(errors)) return errors.map(String).join('; ').slice(0, 500);
  return JSON.stringify(errors ?? 'error').slice(0, 500);
}
