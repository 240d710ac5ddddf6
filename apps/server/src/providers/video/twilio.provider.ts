import twilio from 'twilio';
import type {
  CallSide,
  ParticipantCredentials,
  ParticipantInput,
  ProviderHealth,
  RoomEvent,
  VideoProvider,
  WebhookRequest,
} from './video.provider.ts';
import { WebhookRejected } from './video.provider.ts';

export type TwilioConfig = {
  accountSid: string;
  apiKeySid: string;
  apiKeySecret: string;
  /** Signs status callbacks (X-Twilio-Signature). */
  authToken: string | undefined;
  apiUrl: string;
};

const MAX_TOKEN_SECONDS = 3600;
const IDENTITY = /^(caller|callee)-[0-9a-f-]{36}$/;

/**
 * Twilio Video: one room per call named by the call id; each participant's identity is
 * `<side>-<account id>`. Access tokens are Twilio's `AccessToken` with a `VideoGrant` for the room;
 * status callbacks (configured as the rooms' status callback URL) are verified with Twilio's own
 * `validateRequest` over the public URL and the form parameters.
 */
export class TwilioProvider implements VideoProvider {
  readonly name = 'twilio' as const;
  private readonly config: TwilioConfig;
  private readonly fetch: typeof fetch;

  constructor(config: TwilioConfig, fetchImpl: typeof fetch = fetch) {
    this.config = config;
    this.fetch = fetchImpl;
  }

  credentials(input: ParticipantInput): ParticipantCredentials {
    const ttl = Math.max(60, Math.min(MAX_TOKEN_SECONDS, Math.floor(input.validForSeconds)));
    const identity = `${input.side}-${input.userId}`;
    const token = new twilio.jwt.AccessToken(
      this.config.accountSid,
      this.config.apiKeySid,
      this.config.apiKeySecret,
      {
        identity,
        ttl,
        nbf: Math.floor(input.now.getTime() / 1000) - 5,
      },
    );
    token.addGrant(new twilio.jwt.AccessToken.VideoGrant({ room: input.room }));
    return {
      provider: 'twilio',
      room: input.room,
      identity,
      token: token.toJwt(),
      appId: null,
      expiresAt: new Date(input.now.getTime() + ttl * 1000),
      iceServers: [],
    };
  }

  verifyWebhook(request: WebhookRequest): RoomEvent[] {
    const authToken = this.config.authToken;
    if (!authToken) throw new WebhookRejected('Twilio status callbacks are not configured');
    const header = request.headers['x-twilio-signature'];
    const signature = typeof header === 'string' ? header : '';
    const params = Object.fromEntries(new URLSearchParams(request.rawBody.toString('utf8')));
    if (!signature || !twilio.validateRequest(authToken, signature, request.url, params)) {
      throw new WebhookRejected('X-Twilio-Signature does not match');
    }
    const room = params.RoomName;
    const event = params.StatusCallbackEvent;
    if (!room || !event || !params.RoomSid) return [];
    const occurredAt = params.Timestamp ? new Date(params.Timestamp) : new Date(Number.NaN);
    if (Number.isNaN(occurredAt.getTime())) return [];
    const eventId = `${params.RoomSid}:${params.SequenceNumber ?? ''}:${event}:${params.ParticipantSid ?? ''}`;
    const base = { provider: 'twilio' as const, eventId, room, occurredAt };
    if (event === 'room-ended') return [{ ...base, type: 'room_ended', side: null, reason: null }];
    const type =
      event === 'participant-connected' ? 'joined' : event === 'participant-disconnected' ? 'left' : null;
    const identity = params.ParticipantIdentity ?? '';
    if (!type || !IDENTITY.test(identity)) return [];
    const side = identity.slice(0, identity.indexOf('-')) as CallSide;
    return [
      { ...base, type, side, reason: type === 'left' ? (params.ParticipantStatus ?? 'disconnected') : null },
    ];
  }

  /** Completes the room (Twilio's REST API accepts the unique name in place of the sid). */
  async endRoom(room: string): Promise<void> {
    const response = await this.fetch(`${this.config.apiUrl}/v1/Rooms/${encodeURIComponent(room)}`, {
      method: 'POST',
      headers: { authorization: this.basicAuth(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ Status: 'completed' }).toString(),
      signal: AbortSignal.timeout(5_000),
    });
    // 404: the room never started or is already gone, which is what we wanted.
    if (!response.ok && response.status !== 404)
      throw new Error(`Twilio room update answered ${response.status}`);
  }

  async health(): Promise<ProviderHealth> {
    try {
      const response = await this.fetch(`${this.config.apiUrl}/v1/Rooms?PageSize=1`, {
        headers: { authorization: this.basicAuth() },
        signal: AbortSignal.timeout(5_000),
      });
      return response.ok
        ? { healthy: true, detail: null }
        : { healthy: false, detail: `rooms list answered ${response.status}` };
    } catch (error) {
      return { healthy: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  private basicAuth(): string {
    return `Basic ${Buffer.from(`${this.config.apiKeySid}:${this.config.apiKeySecret}`).toString('base64')}`;
  }
}
