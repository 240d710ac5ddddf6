import type { Clock } from '../../platform/clock.ts';
import {
  type ServiceAccountCredentials,
  ServiceAccountTokenSource,
} from '../google/service-account-token.ts';
import {
  errorReason,
  type PushMessage,
  type PushProvider,
  type PushResult,
  type PushTarget,
  ttlSeconds,
} from './push.provider.ts';

export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

export type FcmOptions = {
  projectId: string;
  credentials: ServiceAccountCredentials;
  clock: Clock;
  /** https://fcm.googleapis.com, or a loopback server in tests. */
  apiUrl?: string;
  /** Overrides the key file's token endpoint (tests). */
  tokenUrl?: string;
};

type FcmError = { error?: { status?: string; message?: string; details?: Array<{ errorCode?: string }> } };

/**
 * FCM HTTP v1 (`projects/{id}/messages:send`) with an OAuth2 token from the service account, cached
 * until it expires (shared with the Google Play client's token source). Calls go as data-only
 * high-priority messages so the app shows its own ringing screen; everything else as a notification.
 * https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages
 */
export class FcmProvider implements PushProvider {
  readonly name = 'fcm';
  private readonly options: FcmOptions;
  private readonly tokens: ServiceAccountTokenSource;

  constructor(options: FcmOptions) {
    this.options = options;
    this.tokens = new ServiceAccountTokenSource({
      credentials: options.credentials,
      scopes: [FCM_SCOPE],
      clock: options.clock,
      ...(options.tokenUrl ? { tokenUrl: options.tokenUrl } : {}),
    });
  }

  redelivery(): 'at_least_once' {
    // FCM has no idempotency key; a duplicate carries the same collapse_key/tag, so the device shows one.
    return 'at_least_once';
  }

  body(target: PushTarget, message: PushMessage): Record<string, unknown> {
    const ttl = `${ttlSeconds(message.expiresAt, this.options.clock.now())}s`;
    const data = { ...message.data, notificationId: message.notificationId, kind: message.kind };
    if (message.call) {
      return {
        message: {
          token: target.token,
          data: { ...data, title: message.title, body: message.body },
          android: { priority: 'HIGH', ttl },
        },
      };
    }
    return {
      message: {
        token: target.token,
        notification: { title: message.title, body: message.body },
        data,
        android: {
          priority: message.priority === 'high' ? 'HIGH' : 'NORMAL',
          ttl,
          collapse_key: message.notificationId,
          notification: { tag: message.notificationId },
        },
      },
    };
  }

  async send(target: PushTarget, message: PushMessage): Promise<PushResult> {
    const url = `${this.options.apiUrl ?? 'https://fcm.googleapis.com'}/v1/projects/${encodeURIComponent(
      this.options.projectId,
    )}/messages:send`;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await this.tokens.accessToken()}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(this.body(target, message)),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text();
      if (response.ok) {
        const name = (JSON.parse(text) as { name?: string }).name;
        return { outcome: 'sent', ...(name ? { providerId: name } : {}) };
      }
      const error = parseError(text);
      const code = error?.details?.find((d) => d.errorCode)?.errorCode ?? error?.status ?? '';
      const reason = `${response.status} ${code || error?.message || 'error'}`.trim();
      if (code === 'UNREGISTERED' || response.status === 404) return { outcome: 'invalid_token', reason };
      if (response.status === 401) {
        this.tokens.invalidate();
        return { outcome: 'retry', reason };
      }
      if (response.status === 429 || response.status >= 500) return { outcome: 'retry', reason };
      return { outcome: 'failed', reason };
    } catch (error) {
      return { outcome: 'retry', reason: errorReason(error) };
    }
  }
}

function parseError(text: string): FcmError['error'] {
  try {
    return (JSON.parse(text) as FcmError).error;
  } catch {
    return undefined;
  }
}
