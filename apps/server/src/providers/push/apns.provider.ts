import http2 from 'node:http2';
import { importPKCS8, SignJWT } from 'jose';
import type { Clock } from '../../platform/clock.ts';
import {
  errorReason,
  type PushMessage,
  type PushProvider,
  type PushResult,
  type PushTarget,
  ttlSeconds,
} from './push.provider.ts';

export type ApnsOptions = {
  /** https://api.push.apple.com, https://api.sandbox.push.apple.com, or a loopback server in tests. */
  url: string;
  teamId: string;
  keyId: string;
  /** The `.p8` file's PEM (PKCS#8, P-256). */
  privateKeyPem: string;
  /** The app's bundle id: alert pushes go to this topic, VoIP pushes to `<bundleId>.voip`. */
  bundleId: string;
  clock: Clock;
  /** Extra TLS trust (tests: the loopback server's self-signed root). */
  ca?: string | Buffer;
};

// Apple refuses tokens older than an hour and asks that they be refreshed at most every 20 minutes.
const TOKEN_REFRESH_MS = 40 * 60 * 1000;
const REQUEST_TIMEOUT_MS = 10_000;
const INVALID_TOKEN_REASONS = new Set(['BadDeviceToken', 'Unregistered', 'DeviceTokenNotForTopic']);

/**
 * APNs over HTTP/2 with token-based auth: one ES256 JWT (`iss` team id, `kid` key id) reused across
 * requests until it is 40 minutes old, and one HTTP/2 connection reused for every push (reopened
 * when it closes). https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 */
export class ApnsProvider implements PushProvider {
  readonly name = 'apns';
  private readonly options: ApnsOptions;
  private session: http2.ClientHttp2Session | undefined;
  private jwt: { token: string; issuedAt: number } | undefined;
  private key: ReturnType<typeof importPKCS8> | undefined;
  /** How many connections were opened (tests check that one is reused). */
  connectionsOpened = 0;

  constructor(options: ApnsOptions) {
    this.options = options;
  }

  redelivery(target: PushTarget): 'at_least_once' | 'at_most_once' {
    // A second VoIP push rings the phone a second time (and iOS requires each be reported to CallKit):
    // after a crash mid-send it is given up. Alert pushes carry apns-collapse-id, so a duplicate
    // replaces the first on the device.
    return target.kind === 'apns_voip' ? 'at_most_once' : 'at_least_once';
  }

  async send(target: PushTarget, message: PushMessage): Promise<PushResult> {
    const voip = target.kind === 'apns_voip';
    if (voip && !message.call) return { outcome: 'failed', reason: 'VoIP pushes are for calls only' };
    const now = this.options.clock.now();
    const payload = voip
      ? { ...message.data, notificationId: message.notificationId, kind: message.kind, title: message.title }
      : {
          aps: { alert: { title: message.title, body: message.body }, sound: 'default' },
          ...message.data,
          notificationId: message.notificationId,
          kind: message.kind,
        };
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': `/3/device/${encodeURIComponent(target.token)}`,
      authorization: `bearer ${await this.providerToken()}`,
      'apns-topic': voip ? `${this.options.bundleId}.voip` : this.options.bundleId,
      'apns-push-type': voip ? 'voip' : 'alert',
      'apns-priority': message.priority === 'high' || voip ? '10' : '5',
      // 0 means "deliver now or never"; otherwise the absolute expiry, never later than the message's.
      'apns-expiration': String(
        ttlSeconds(message.expiresAt, now) === 0 ? 0 : Math.floor(message.expiresAt.getTime() / 1000),
      ),
      'apns-id': message.notificationId,
      'content-type': 'application/json',
    };
    if (!voip) headers['apns-collapse-id'] = message.notificationId.slice(0, 64);
    try {
      const { status, body } = await this.request(headers, JSON.stringify(payload));
      if (status === 200) return { outcome: 'sent', providerId: message.notificationId };
      const reason = parseReason(body) ?? `HTTP ${status}`;
      if (status === 410 || INVALID_TOKEN_REASONS.has(reason)) return { outcome: 'invalid_token', reason };
      if (status === 403 && reason === 'ExpiredProviderToken') {
        this.jwt = undefined;
        return { outcome: 'retry', reason };
      }
      if (status === 429 || status >= 500) return { outcome: 'retry', reason };
      return { outcome: 'failed', reason };
    } catch (error) {
      return { outcome: 'retry', reason: errorReason(error) };
    }
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session && !session.closed) await new Promise<void>((resolve) => session.close(() => resolve()));
  }

  private async providerToken(): Promise<string> {
    const now = this.options.clock.now().getTime();
    if (this.jwt && now - this.jwt.issuedAt < TOKEN_REFRESH_MS) return this.jwt.token;
    this.key ??= importPKCS8(this.options.privateKeyPem, 'ES256');
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: this.options.keyId })
      .setIssuer(this.options.teamId)
      .setIssuedAt(Math.floor(now / 1000))
      .sign(await this.key);
    this.jwt = { token, issuedAt: now };
    return token;
  }

  private connection(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = http2.connect(this.options.url, this.options.ca ? { ca: this.options.ca } : {});
    session.on('error', () => {});
    session.on('close', () => {
      if (this.session === session) this.session = undefined;
    });
    // An idle connection must not keep the process alive.
    session.unref();
    this.connectionsOpened++;
    this.session = session;
    return session;
  }

  private request(
    headers: http2.OutgoingHttpHeaders,
    body: string,
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const stream = this.connection().request(headers);
      stream.setTimeout(REQUEST_TIMEOUT_MS, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      let status = 0;
      const chunks: Buffer[] = [];
      stream.on('response', (h) => {
        status = Number(h[':status']);
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString() }));
      stream.on('error', reject);
      stream.on('close', () => {
        if (status === 0) reject(new Error('APNs stream closed without a response'));
      });
      stream.end(body);
    });
  }
}

function parseReason(body: string): string | undefined {
  try {
    const reason = (JSON.parse(body) as { reason?: unknown }).reason;
    return typeof reason === 'string' ? reason : undefined;
  } catch {
    return undefined;
  }
}
