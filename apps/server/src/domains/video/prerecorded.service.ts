import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Principal } from '../../platform/auth/principal.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { AppError, badInput, conflict, forbidden, notFound } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import type { MediaService } from '../media/media.service.ts';
import type { CallRecord } from './call.repository.ts';
import type { CallEngine } from './call-engine.ts';
import type { BlockCheck, CallParties } from './call-party.ts';
import type { CallRoomService } from './call-room.service.ts';
import { isLive } from './call-state.ts';
import type { OwnOffer, PrerecordedOffer, PrerecordedRepository } from './prerecorded.repository.ts';

/**
 * The `provider` of a prerecorded call. It is no configured video provider: there is no room, no
 * credentials and nothing to end at a vendor; the viewer plays the media URL.
 */
export const PRERECORDED_PROVIDER = 'prerecorded';

export const PRERECORDED_OFFER_MODES = ['off', 'when_no_streamer', 'always'] as const;
export type PrerecordedOfferMode = (typeof PRERECORDED_OFFER_MODES)[number];

/** Whether any streamer could take a live call now (online, available, not in a call). */
export type StreamerAvailability = { anyAvailable(): Promise<boolean> };
export const noStreamerAvailability: StreamerAvailability = { anyAvailable: async () => false };

export type PrerecordedMedia = Pick<MediaService, 'get' | 'urlFor'>;

export type Playback = { url: string; expiresAt: Date };
export type PrerecordedViewing = { call: CallRecord; offer: PrerecordedOffer; playback: Playback };

// Enough to step over a few blocked or banned streamers without reading every offer.
const CANDIDATES = 20;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const requireId = (value: string, field: string) => {
  if (!UUID.test(value)) throw badInput(`${field} must be an id`, { field });
  return value;
};

const language = z.string().regex(/^[a-z]{2}$/, 'languages are ISO 639-1 codes such as en');
const offerInput = z.object({
  title: z.string().trim().min(1, 'title must not be empty').max(80, 'title is at most 80 characters'),
  languages: z
    .array(language)
    .max(5, 'at most 5 languages')
    .transform((list) => [...new Set(list)]),
  durationSeconds: z
    .number()
    .int('durationSeconds must be whole seconds')
    .min(1, 'durationSeconds must be at least 1'),
});

/**
 * Prerecorded videos: streamers offer some of their approved video uploads; a user who is offered one
 * watches it as a call of kind `prerecorded` (payer the user, earner the streamer), billed by the
 * prerecorded tariff through the same engine, record and `call_ended` as live calls. The streamer
 * takes no part: they are neither made busy nor held in a call. See docs/prerecorded-videos.md.
 */
export class PrerecordedService {
  private readonly engine: CallEngine;
  private readonly rooms: Pick<CallRoomService, 'sideJoined'>;
  private readonly repo: PrerecordedRepository;
  private readonly parties: CallParties;
  private readonly blocks: BlockCheck;
  private readonly media: PrerecordedMedia;
  private readonly streamers: StreamerAvailability;

  constructor(deps: {
    engine: CallEngine;
    rooms: Pick<CallRoomService, 'sideJoined'>;
    repo: PrerecordedRepository;
    parties: CallParties;
    blocks: BlockCheck;
    media: PrerecordedMedia;
    streamers: StreamerAvailability;
  }) {
    this.engine = deps.engine;
    this.rooms = deps.rooms;
    this.repo = deps.repo;
    this.parties = deps.parties;
    this.blocks = deps.blocks;
    this.media = deps.media;
    this.streamers = deps.streamers;
  }

  private get d() {
    return this.engine.deps;
  }

  /** A streamer offers one of their own approved videos, up to video.prerecorded_offers_per_streamer. */
  async createOffer(
    streamerId: string,
    input: { mediaId: string; title: string; languages: readonly string[]; durationSeconds: number },
  ): Promise<PrerecordedOffer> {
    const mediaId = requireId(input.mediaId, 'mediaId');
    const parsed = parseOrThrow(offerInput, input, 'offer');
    const [maxSeconds, maxOffers] = await Promise.all([
      this.d.settings.get('video.prerecorded_max_seconds'),
      this.d.settings.get('video.prerecorded_offers_per_streamer'),
    ]);
    if (parsed.durationSeconds > maxSeconds) {
      throw badInput(`durationSeconds is at most ${maxSeconds}`, { field: 'durationSeconds' });
    }
    const item = await this.media.get(mediaId);
    if (!item || item.ownerId !== streamerId || item.kind !== 'video') {
      throw badInput('mediaId must be one of your video uploads', { field: 'mediaId' });
    }
    if (item.status !== 'approved') {
      throw badInput('The video must be approved by a moderator first', { field: 'mediaId' });
    }
    return withTransaction(this.d.db, async (tx) => {
      await this.repo.lockStreamer(tx, streamerId);
      if (await this.repo.activeForMedia(tx, mediaId)) throw conflict('This video is already offered');
      if ((await this.repo.countActive(tx, streamerId)) >= maxOffers) {
        throw conflict(`At most ${maxOffers} prerecorded offers at a time: withdraw one first`);
      }
      return this.repo.insert(tx, {
        id: randomUUID(),
        streamerId,
        mediaId,
        title: parsed.title,
        languages: parsed.languages,
        durationSeconds: parsed.durationSeconds,
        createdAt: this.engine.now(),
      });
    });
  }

  async withdrawOffer(streamerId: string, offerId: string): Promise<PrerecordedOffer> {
    const id = requireId(offerId, 'offerId');
    const withdrawn = await withTransaction(this.d.db, async (tx) => {
      await this.repo.lockStreamer(tx, streamerId);
      return this.repo.withdraw(tx, streamerId, id, this.engine.now());
    });
    if (!withdrawn) throw notFound('Prerecorded offer');
    return withdrawn;
  }

  myOffers(streamerId: string): Promise<OwnOffer[]> {
    return this.repo.listOwn(streamerId);
  }

  /**
   * A video to offer the user now, or null: when the mode is off, when the mode is `when_no_streamer`
   * and some streamer could take a live call, when the caller is no paying user, or when nothing fits.
   * Never a video of a streamer blocked either way or no longer active.
   */
  async offerFor(userId: string, wantLanguage: string | null = null): Promise<PrerecordedOffer | null> {
    const lang = wantLanguage === null ? null : parseOrThrow(language, wantLanguage, 'language');
    const mode = await this.d.settings.get('video.prerecorded_offer_mode');
    if (mode === 'off') return null;
    const viewer = await this.parties.describe(userId);
    if (viewer?.status !== 'active' || viewer.roles.includes('streamer')) return null;
    if (mode === 'when_no_streamer' && (await this.streamers.anyAvailable())) return null;
    for (const offer of await this.repo.candidates(userId, lang, CANDIDATES)) {
      if (await this.streamerFits(userId, offer.streamerId)) return offer;
    }
    return null;
  }

  private async streamerFits(userId: string, streamerId: string): Promise<boolean> {
    const streamer = await this.parties.describe(streamerId);
    if (streamer?.status !== 'active' || !streamer.roles.includes('streamer')) return false;
    return !(await this.blocks(userId, streamerId));
  }

  /**
   * Starts watching: the call is written and goes requested → accepted → connecting → connected in one
   * transaction, through the engine and the room service's join, so billing starts at connect with the
   * prerecorded tariff exactly as for live calls. Only the viewer is held in a call; the streamer's
   * availability is not touched (the record's earner_prior_availability stays null, so ending restores
   * nothing). Returns the call and a signed, expiring URL of the video.
   */
  async start(principal: Principal, offerId: string): Promise<PrerecordedViewing> {
    const id = requireId(offerId, 'offerId');
    const userId = principal.userId;
    if ((await this.d.settings.get('video.prerecorded_offer_mode')) === 'off') {
      throw forbidden('Prerecorded videos are not offered now');
    }
    const viewer = await this.parties.describe(userId);
    if (viewer?.status !== 'active') throw forbidden('Your account cannot watch videos');
    if (viewer.roles.includes('streamer')) throw forbidden('Streamers cannot watch prerecorded videos');
    const offer = await this.repo.findPlayable(id);
    if (!offer || !(await this.streamerFits(userId, offer.streamerId))) throw notFound('Prerecorded offer');
    const afford = await this.d.billing.canStart(userId, 'prerecorded');
    if (!afford.allowed) {
      throw new AppError('INSUFFICIENT_FUNDS', 'Not enough coins to watch this video', {
        needed: afford.needed.toString(),
        balance: afford.balance.toString(),
      });
    }
    // Signed before the call starts, so a viewing is never billed without something to play.
    const playback = await this.media.urlFor(principal, offer.mediaId, 'original');
    const [maxSeconds, connectSeconds, grace] = await Promise.all([
      this.d.settings.get('video.prerecorded_max_seconds'),
      this.d.settings.get('call.connect_timeout_seconds'),
      this.d.settings.get('call.reconnect_grace_seconds'),
    ]);
    const call = await this.engine.change(async (tx, after) => {
      // Checked again under the transaction: the video may have been rejected or withdrawn meanwhile.
      if (!(await this.repo.findPlayable(id, tx))) throw notFound('Prerecorded offer');
      const callId = randomUUID();
      const taken = await this.d.repo.claimParties(tx, callId, [userId]);
      if (taken.length > 0) throw conflict('You are already in a call');
      const now = this.engine.now();
      const requested = await this.d.repo.insert(tx, {
        id: callId,
        kind: 'prerecorded',
        caller_id: userId,
        callee_id: offer.streamerId,
        payer_id: userId,
        earner_id: offer.streamerId,
        requested_at: now,
        state: 'requested',
        earner_prior_availability: null,
      });
      await this.d.repo.addTransition(tx, {
        callId,
        state: 'requested',
        reason: null,
        actor: 'caller',
        at: now,
        detail: { offerId: offer.id },
      });
      await this.repo.insertView(tx, {
        callId,
        offerId: offer.id,
        viewerId: userId,
        streamerId: offer.streamerId,
        startedAt: now,
      });
      const accepted = await this.engine.apply(
        tx,
        after,
        requested,
        { type: 'accept' },
        { accepted_at: now },
        'system',
      );
      const connecting = await this.engine.apply(
        tx,
        after,
        accepted,
        { type: 'prepare' },
        {
          connecting_at: now,
          provider: PRERECORDED_PROVIDER,
          deadline_at: new Date(now.getTime() + connectSeconds * 1000),
        },
        'system',
        { provider: PRERECORDED_PROVIDER },
      );
      const half = await this.rooms.sideJoined(tx, after, connecting, 'caller');
      const connected = await this.rooms.sideJoined(tx, after, half, 'callee');
      if (connected.state !== 'connected') {
        throw new AppError('INSUFFICIENT_FUNDS', 'Not enough coins to watch this video', {
          needed: afford.needed.toString(),
        });
      }
      // The recorded side counts as present until the video's end: the call's timer (the same job as
      // every call's) then ends the viewing a reconnect grace after it, or earlier once the viewer's
      // heartbeats stop. So a closed app is never billed past the grace, nor anyone past the video.
      const playSeconds = Math.min(offer.durationSeconds, maxSeconds);
      const bounded = await this.d.repo.update(tx, callId, {
        callee_seen_at: new Date(now.getTime() + playSeconds * 1000),
      });
      const timed = await this.d.repo.update(tx, callId, {
        deadline_at: this.engine.connectedDeadline(bounded, grace),
      });
      await this.engine.scheduleTimer(tx, timed);
      after.published.push(timed);
      return timed;
    });
    return { call, offer, playback };
  }

  /** The viewer stops (or the player reached the end): the call ends as a hang-up by the viewer. */
  async stop(userId: string, callId: string): Promise<CallRecord> {
    return this.engine.act(userId, requireId(callId, 'callId'), 'caller', async (tx, after, call) => {
      if (call.kind !== 'prerecorded') throw badInput('Not a prerecorded video', { field: 'callId' });
      if (!isLive(call.state)) return call;
      return this.engine.apply(tx, after, call, { type: 'hangup', by: 'caller' }, {}, 'caller');
    });
  }

  /** A fresh URL of the video while the viewer's prerecorded call is live (the previous one expires). */
  async playback(principal: Principal, callId: string): Promise<Playback> {
    const call = await this.engine.forSide(principal.userId, requireId(callId, 'callId'));
    if (call.kind !== 'prerecorded' || call.callerId !== principal.userId) throw notFound('Call');
    if (!isLive(call.state)) throw conflict('The video has ended');
    const view = await this.repo.viewOf(call.id);
    const offer = view && (await this.repo.find(view.offerId));
    if (!offer) throw notFound('Prerecorded offer');
    return this.media.urlFor(principal, offer.mediaId, 'original');
  }

  /** The offer a prerecorded call played (for the call's viewer and the streamer). */
  async offerOfCall(callId: string): Promise<PrerecordedOffer | undefined> {
    const view = await this.repo.viewOf(callId);
    return view && this.repo.find(view.offerId);
  }
}
