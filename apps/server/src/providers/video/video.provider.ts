/**
 * A video vendor behind one interface: the calls domain asks for a participant's credentials for a
 * call's room, hands it the vendor's webhooks to verify and normalise, and may end a room or remove a
 * participant where the vendor allows it. Adding a vendor is one new file implementing `VideoProvider`
 * plus a line in create-video-providers.ts.
 */
export const VIDEO_PROVIDER_NAMES = ['agora', 'twilio', 'local'] as const;
export type VideoProviderName = (typeof VIDEO_PROVIDER_NAMES)[number];

/** Which side of a call a participant is: the room identity is derived from it. */
export type CallSide = 'caller' | 'callee';

export type IceServer = { urls: string[]; username?: string; credential?: string };

/** What a client needs to join the call's room with the vendor's SDK (or, for `local`, WebRTC). */
export type ParticipantCredentials = {
  provider: VideoProviderName;
  room: string;
  /** The participant's identity in the room (Agora: a numeric uid as a string; Twilio: the account id). */
  identity: string;
  /** The vendor token; null for the local provider (our own session authenticates the signalling). */
  token: string | null;
  /** Agora's App ID (public); null elsewhere. */
  appId: string | null;
  /** When the token's privileges end: the client asks for a fresh one before then. */
  expiresAt: Date;
  /** STUN/TURN servers for the local provider; empty for the vendors (their SDKs bring their own). */
  iceServers: IceServer[];
};

export type ParticipantInput = {
  room: string;
  userId: string;
  side: CallSide;
  /** How long the privileges may last: the seconds of call the payer can afford, at most an hour. */
  validForSeconds: number;
  now: Date;
};

/** A vendor webhook, normalised. `eventId` de-duplicates replays (Agora's noticeId, Twilio's sequence). */
export type RoomEvent = {
  provider: VideoProviderName;
  eventId: string;
  room: string;
  type: 'joined' | 'left' | 'room_ended';
  /** null for room_ended. */
  side: CallSide | null;
  /** The vendor's reason for a leave (e.g. Agora's 2 = timeout), as text; null when none. */
  reason: string | null;
  occurredAt: Date;
};

export type WebhookRequest = {
  /** Lower-cased header names. */
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
  /** The full public URL the vendor posted to (Twilio signs it). */
  url: string;
};

/** A webhook that failed verification: answered 401, changes nothing. */
export class WebhookRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookRejected';
  }
}

export type ProviderHealth = { healthy: boolean; detail: string | null };

export type VideoProvider = {
  readonly name: VideoProviderName;
  credentials(input: ParticipantInput): ParticipantCredentials;
  /** Verifies and normalises a webhook; throws WebhookRejected. Events the calls domain ignores are dropped. */
  verifyWebhook(request: WebhookRequest): RoomEvent[];
  /** Ends the room for everyone, where the vendor allows it (best effort: the call ends either way). */
  endRoom(room: string): Promise<void>;
  /** An active check of the vendor (its REST API answers, with our credentials). */
  health(): Promise<ProviderHealth>;
};

/** The numeric Agora uid / Twilio identity suffix of a side: fixed per call so webhooks map back. */
export const sideOfUid = (uid: number): CallSide | null =>
  uid === 1 ? 'caller' : uid === 2 ? 'callee' : null;
export const uidOfSide = (side: CallSide): number => (side === 'caller' ? 1 : 2);
