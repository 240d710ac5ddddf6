import type {
  IceServer,
  ParticipantCredentials,
  ParticipantInput,
  ProviderHealth,
  RoomEvent,
  VideoProvider,
} from './video.provider.ts';
import { WebhookRejected } from './video.provider.ts';

/**
 * Peer-to-peer WebRTC with no outside service: the two browsers exchange offer, answer and ICE
 * candidates through our own `sendCallSignal` mutation and `myCallUpdates` subscription, and each
 * confirms to the server when its media is flowing (`confirmCallMedia`), which stands in for a
 * vendor's "joined" webhook. On one machine (or a LAN) no STUN/TURN server is needed.
 */
export class LocalWebRtcProvider implements VideoProvider {
  readonly name = 'local' as const;
  private readonly iceServers: IceServer[];

  constructor(iceServers: IceServer[] = []) {
    this.iceServers = iceServers;
  }

  credentials(input: ParticipantInput): ParticipantCredentials {
    return {
      provider: 'local',
      room: input.room,
      identity: input.side,
      token: null,
      appId: null,
      expiresAt: new Date(input.now.getTime() + Math.max(1, Math.floor(input.validForSeconds)) * 1000),
      iceServers: this.iceServers,
    };
  }

  verifyWebhook(): RoomEvent[] {
    throw new WebhookRejected('The local provider has no webhooks');
  }

  // Nothing to tear down: ending the call tells both browsers through their subscriptions.
  async endRoom(): Promise<void> {}

  async health(): Promise<ProviderHealth> {
    return { healthy: true, detail: null };
  }
}

/** `VIDEO_ICE_SERVERS`: comma-separated stun:/turn: URLs (TURN credentials as turn:user:pass@host). */
export function parseIceServers(value: string): IceServer[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const turn = /^(turns?):([^:@]+):([^@]+)@(.+)$/.exec(entry);
      if (turn) return { urls: [`${turn[1]}:${turn[4]}`], username: turn[2], credential: turn[3] };
      return { urls: [entry] };
    });
}
