import { createHmac, timingSafeEqual } from 'node:crypto';
import agora from 'agora-token';
import { z } from 'zod';
import {
  type ParticipantCredentials,
  type ParticipantInput,
  type ProviderHealth,
  type RoomEvent,
  sideOfUid,
  uidOfSide,
  type VideoProvider,
  WebhookRejected,
  type WebhookRequest,
} from './video.provider.ts';

export type AgoraConfig = {
  appId: string;
  appCertificate: string;
  /** The Notification Center secret that signs webhooks (Agora-Signature-V2). */
  webhookSecret: string | undefined;
  /** RESTful API customer id and secret (kicking rules, channel queries); optional. */
  customerId: string | undefined;
  customerSecret: string | undefined;
  apiUrl: string;
};

// Agora Notification Center channel events the calls domain acts on: a user joins or leaves a
// communication channel (107/108), or a host joins or leaves a live-broadcast one (103/104).
const JOINED = new Set([103, 107]);
const LEFT = new Set([104, 108]);
const CHANNEL_DESTROYED = 102;
// 104/108 `reason`: why the user left (Agora's documented codes).
const LEAVE_REASONS: Record<number, string> = {
  1: 'left',
  2: 'timeout',
  3: 'kicked',
  4: 'server_error',
  5: 'new_device',
  9: 'multiple_ips',
  10: 'network_changed',
  999: 'abnormal',
  0: 'other',
};

const noticeSchema = z.object({
  noticeId: z.string().min(1),
  eventType: z.number().int(),
  notifyMs: z.number().optional(),
  payload: z
    .object({
      channelName: z.string().min(1),
      uid: z.number().int().optional(),
      reason: z.number().int().optional(),
      // Seconds since the epoch (not milliseconds, unlike notifyMs).
      ts: z.number().int(),
    })
    .passthrough(),
});

const MAX_PRIVILEGE_SECONDS = 3600;

/**
 * Agora RTC: one channel per call named by the call id, uid 1 for the caller and 2 for the callee.
 * Tokens come from `agora-token`'s RtcTokenBuilder (AccessToken2, "007…"); their privileges last no
 * longer than the payer can afford, so a client that stops renewing drops out of the channel.
 */
export class AgoraProvider implements VideoProvider {
  readonly name = 'agora' as const;
  private readonly config: AgoraConfig;
  private readonly fetch: typeof fetch;

  constructor(config: AgoraConfig, fetchImpl: typeof fetch = fetch) {
    this.config = config;
    this.fetch = fetchImpl;
  }

  credentials(input: ParticipantInput): ParticipantCredentials {
    const seconds = Math.max(1, Math.min(MAX_PRIVILEGE_SECONDS, Math.floor(input.validForSeconds)));
    const uid = uidOfSide(input.side);
    // The builder counts both lifetimes from its own "now" (the real time Agora checks against).
    const token = agora.RtcTokenBuilder.buildTokenWithUid(
      this.config.appId,
      this.config.appCertificate,
      input.room,
      uid,
      agora.RtcRole.PUBLISHER,
      seconds,
      seconds,
    );
    if (!token)
      throw new Error('Agora token could not be built: check AGORA_APP_ID and AGORA_APP_CERTIFICATE');
    return {
      provider: 'agora',
      room: input.room,
      identity: String(uid),
      token,
      appId: this.config.appId,
      expiresAt: new Date(input.now.getTime() + seconds * 1000),
      iceServers: [],
    };
  }

  verifyWebhook(request: WebhookRequest): RoomEvent[] {
    const secret = this.config.webhookSecret;
    if (!secret) throw new WebhookRejected('Agora webhooks are not configured');
    const header = request.headers['agora-signature-v2'];
    const given = typeof header === 'string' ? header.trim().toLowerCase() : '';
    const expected = createHmac('sha256', secret).update(request.rawBody).digest('hex');
    if (
      !/^[0-9a-f]{64}$/.test(given) ||
      !timingSafeEqual(Buffer.from(given, 'hex'), Buffer.from(expected, 'hex'))
    ) {
      throw new WebhookRejected('Agora-Signature-V2 does not match the body');
    }
    let body: unknown;
    try {
      body = JSON.parse(request.rawBody.toString('utf8'));
    } catch {
      throw new WebhookRejected('Agora webhook body is not JSON');
    }
    const notice = noticeSchema.safeParse(body);
    // Signed by Agora but of a shape we do not use (another product's events): accepted, ignored.
    if (!notice.success) return [];
    const { eventType, payload } = notice.data;
    const occurredAt = new Date(payload.ts * 1000);
    const base = {
      provider: 'agora' as const,
      eventId: notice.data.noticeId,
      room: payload.channelName,
      occurredAt,
    };
    if (eventType === CHANNEL_DESTROYED) return [{ ...base, type: 'room_ended', side: null, reason: null }];
    const type = JOINED.has(eventType) ? 'joined' : LEFT.has(eventType) ? 'left' : null;
    const side = payload.uid === undefined ? null : sideOfUid(payload.uid);
    if (!type || !side) return [];
    const reason =
      type === 'left' ? (LEAVE_REASONS[payload.reason ?? 0] ?? `reason_${payload.reason}`) : null;
    return [{ ...base, type, side, reason }];
  }

  /** Bans joining the channel for a minute (Agora's kicking rule), which removes everyone in it. */
  async endRoom(room: string): Promise<void> {
    const auth = this.basicAuth();
    if (!auth) return;
    const response = await this.fetch(`${this.config.apiUrl}/dev/v1/kicking-rule`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ appid: this.config.appId, cname: room, time: 1, privileges: ['join_channel'] }),
      signal: AbortSignal.timeout(5_000),
    });
    if (!response.ok) throw new Error(`Agora kicking rule answered ${response.status}`);
  }

  async health(): Promise<ProviderHealth> {
    const auth = this.basicAuth();
    if (!auth) return { healthy: true, detail: 'no RESTful credentials: not probed' };
    try {
      const response = await this.fetch(
        `${this.config.apiUrl}/dev/v1/channel/${encodeURIComponent(this.config.appId)}?page_no=0&page_size=1`,
        { headers: { authorization: auth }, signal: AbortSignal.timeout(5_000) },
      );
      return response.ok
        ? { healthy: true, detail: null }
        : { healthy: false, detail: `channel list answered ${response.status}` };
    } catch (error) {
      return { healthy: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  private basicAuth(): string | undefined {
    const { customerId, customerSecret } = this.config;
    if (!customerId || !customerSecret) return undefined;
    return `Basic ${Buffer.from(`${customerId}:${customerSecret}`).toString('base64')}`;
  }
}
