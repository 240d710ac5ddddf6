import type { Principal } from '../../platform/auth/principal.ts';
import type { Role } from '../../platform/auth/roles.ts';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import { AppError, badInput, conflict, forbidden, notFound } from '../../platform/errors/app-error.ts';
import { accounts, type LedgerCommand, type LedgerReceipt } from '../balance/balance.accounts.ts';
import type { EarningsSplit } from '../balance/earnings-split.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { AuditActor, AuditLog } from '../mission_control/audit-log.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import { giftSent } from './gift.events.ts';
import type { Gift, GiftInput, GiftRepository, SentGift } from './gift.repository.ts';
import type { GiftContext } from './gift.tables.ts';

const isUniqueViolation = (error: unknown, constraint: string) =>
  (error as { code?: unknown })?.code === '23505' &&
  (error as { constraint?: unknown }).constraint === constraint;

export const MAX_GIFT_PRICE = 1_000_000_000n;

export type SendGiftInput = {
  giftId: string;
  streamerId: string;
  /** The client's id for this send, unique per sender: a retry with the same id sends nothing twice. */
  clientId: string;
  context: GiftContext;
  callId: string | null;
};

export type SendGiftResult = SentGift & { replayed: boolean };

/** The streamer's share of a gift's price: a fixed number of coins, or basis points rounded down. */
export function streamerShare(gift: Pick<Gift, 'price' | 'shareBps' | 'shareCoins'>): bigint {
  // The catalogue's check constraint keeps shareCoins <= price.
  if (gift.shareCoins !== null) return gift.shareCoins;
  return (gift.price * BigInt(gift.shareBps ?? 0)) / 10_000n;
}

/**
 * Gifts: a catalogue admins manage, and sending one to a streamer in a chat or a call. A send is one
 * ledger transaction (kind `gift`, key `gift:{senderId}:{clientId}`): the sender's wallet pays the
 * price, the streamer's share goes through the `EarningsSplit` (their agency takes its part), the rest
 * is platform revenue. The gift row, the ledger transaction and the `gift_sent` event commit together.
 */
export class GiftService {
  private readonly deps: {
    db: Db;
    repo: GiftRepository;
    ledger: { post(tx: Tx, command: LedgerCommand): Promise<LedgerReceipt> };
    earningsSplit: EarningsSplit;
    settings: Pick<SettingsService, 'get'>;
    users: { getUser(id: string): Promise<{ id: string; roles: Role[]; deletedAt: Date | null }> };
    /** Whether either of the two has blocked the other (the blocklist domain). */
    blocks: (a: string, b: string) => Promise<boolean>;
    /** The video domain's call, to check that a gift in a call is sent in a live call of the pair. */
    calls: {
      find(callId: string): Promise<{ callerId: string; calleeId: string; state: string } | undefined>;
    };
    audit: AuditLog;
    eventLog: EventLog;
    clock: Clock;
  };

  constructor(deps: GiftService['deps']) {
    this.deps = deps;
  }

  /** What users may send, in display order. */
  async catalogue(): Promise<Gift[]> {
    return this.deps.repo.list(false);
  }

  /** Every gift, unavailable ones too (admin). */
  async all(): Promise<Gift[]> {
    return this.deps.repo.list(true);
  }

  async get(id: string): Promise<Gift> {
    const gift = await this.deps.repo.find(id);
    if (!gift) throw notFound('Gift');
    return gift;
  }

  async received(streamerId: string, limit: number, before: bigint | undefined): Promise<SentGift[]> {
    return this.deps.repo.listSent({ streamerId }, limit, before);
  }

  async sentBy(senderId: string, limit: number, before: bigint | undefined): Promise<SentGift[]> {
    return this.deps.repo.listSent({ senderId }, limit, before);
  }

  /** The gift part of the account's data export: every gift sent and received, newest first. */
  async exportFor(userId: string): Promise<Record<string, unknown>> {
    const row = (g: SentGift) => ({
      id: g.id,
      giftId: g.giftId,
      senderId: g.senderId,
      streamerId: g.streamerId,
      coins: g.coins.toString(),
      context: g.context,
      callId: g.callId,
      at: g.createdAt.toISOString(),
    });
    const [sent, received] = await Promise.all([
      this.deps.repo.listSent({ senderId: userId }, 100_000, undefined),
      this.deps.repo.listSent({ streamerId: userId }, 100_000, undefined),
    ]);
    return { sent: sent.map(row), received: received.map(row) };
  }

  async create(actor: AuditActor & { principal: Principal }, input: GiftInput): Promise<Gift> {
    validateGift(input);
    return withTransaction(this.deps.db, async (tx) => {
      const gift = await this.deps.repo.insert(tx, input, this.deps.clock.now());
      await this.deps.audit.record(tx, actor, {
        action: 'gift.created',
        targetType: 'gift',
        targetId: gift.id,
        after: snapshot(gift),
      });
      return gift;
    });
  }

  async update(
    actor: AuditActor & { principal: Principal },
    id: string,
    patch: Partial<GiftInput>,
  ): Promise<Gift> {
    return withTransaction(this.deps.db, async (tx) => {
      const before = await this.deps.repo.lock(tx, id);
      if (!before) throw notFound('Gift');
      const next: GiftInput = {
        name: patch.name ?? before.name,
        imageMediaId: patch.imageMediaId !== undefined ? patch.imageMediaId : before.imageMediaId,
        imageUrl: patch.imageUrl !== undefined ? patch.imageUrl : before.imageUrl,
        price: patch.price ?? before.price,
        // Setting one kind of share replaces the other.
        shareBps:
          patch.shareBps !== undefined && patch.shareBps !== null
            ? patch.shareBps
            : patch.shareCoins !== undefined && patch.shareCoins !== null
              ? null
              : before.shareBps,
        shareCoins:
          patch.shareCoins !== undefined && patch.shareCoins !== null
            ? patch.shareCoins
            : patch.shareBps !== undefined && patch.shareBps !== null
              ? null
              : before.shareCoins,
        available: patch.available ?? before.available,
        sortOrder: patch.sortOrder ?? before.sortOrder,
      };
      validateGift(next);
      const after = await this.deps.repo.update(tx, id, next, this.deps.clock.now());
      await this.deps.audit.record(tx, actor, {
        action: 'gift.updated',
        targetType: 'gift',
        targetId: id,
        before: snapshot(before),
        after: snapshot(after),
      });
      return after;
    });
  }

  /**
   * Sends a gift. Idempotent by (sender, clientId): a replay returns the first send with `replayed`;
   * the same client id for a different gift, streamer or context is a CONFLICT. INSUFFICIENT_FUNDS
   * leaves nothing behind, and so does a pair blocked either way (FORBIDDEN, reason BLOCKED).
   */
  async send(senderId: string, input: SendGiftInput): Promise<SendGiftResult> {
    if (!(await this.deps.settings.get('feature.gifts_enabled'))) {
      throw forbidden('Gifts are turned off');
    }
    if (input.context === 'call' && !input.callId) {
      throw badInput('A gift in a call needs the callId', { field: 'callId' });
    }
    if (input.context === 'chat' && input.callId) {
      throw badInput('A gift in a chat has no callId', { field: 'callId' });
    }
    const existing = await this.deps.repo.findSent(this.deps.db, senderId, input.clientId);
    if (existing) return this.replay(existing, input);
    if (input.streamerId === senderId)
      throw badInput('You cannot send a gift to yourself', { field: 'streamerId' });
    const streamer = await this.deps.users.getUser(input.streamerId).catch((error: unknown) => {
      if (error instanceof AppError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    });
    if (!streamer || streamer.deletedAt || !streamer.roles.includes('streamer')) {
      throw badInput('Gifts can only be sent to streamers', { field: 'streamerId' });
    }
    if (await this.deps.blocks(senderId, input.streamerId)) {
      throw new AppError('FORBIDDEN', 'You cannot send a gift to this account', { reason: 'BLOCKED' });
    }
    if (input.callId) await this.requireLiveCall(input.callId, senderId, input.streamerId);
    try {
      return await withTransaction(this.deps.db, async (tx) => {
        const gift = await this.deps.repo.find(input.giftId, tx);
        if (!gift?.available) throw notFound('Gift');
        const earned = streamerShare(gift);
        // The row first: a concurrent send with the same client id waits here, then replays.
        const sent = await this.deps.repo.insertSent(
          tx,
          {
            senderId,
            clientId: input.clientId,
            giftId: gift.id,
            streamerId: input.streamerId,
            coins: gift.price,
            earned,
            context: input.context,
            callId: input.callId,
          },
          this.deps.clock.now(),
        );
        if (!sent) {
          const first = await this.deps.repo.findSent(tx, senderId, input.clientId);
          if (!first) throw conflict('The gift is being sent; try again');
          return this.replay(first, input);
        }
        const earnings = await this.deps.earningsSplit(tx, input.streamerId, earned);
        const platformShare = gift.price - earned;
        await this.deps.ledger.post(tx, {
          idempotencyKey: `gift:${senderId}:${input.clientId}`,
          kind: 'gift',
          spend: { userId: senderId, amount: gift.price },
          postings: [
            ...earnings,
            ...(platformShare !== 0n ? [{ account: accounts.platformRevenue, amount: platformShare }] : []),
          ],
          metadata: {
            sentId: sent.id,
            giftId: gift.id,
            streamerId: input.streamerId,
            context: input.context,
            callId: input.callId,
          },
          actorId: senderId,
        });
        await this.deps.eventLog.emit(
          tx,
          giftSent.event(
            {
              sentId: sent.id,
              giftId: gift.id,
              senderId,
              streamerId: input.streamerId,
              coins: Number(gift.price),
              earned: Number(earned),
              context: input.context,
              callId: input.callId,
            },
            { userId: input.streamerId },
          ),
        );
        return { ...sent, replayed: false };
      });
    } catch (error) {
      if (isUniqueViolation(error, 'sent_client')) {
        const first = await this.deps.repo.findSent(this.deps.db, senderId, input.clientId);
        if (first) return this.replay(first, input);
      }
      throw error;
    }
  }

  private async requireLiveCall(callId: string, senderId: string, streamerId: string): Promise<void> {
    const call = await this.deps.calls.find(callId);
    const parties = new Set([call?.callerId, call?.calleeId]);
    if (!call || !parties.has(senderId) || !parties.has(streamerId) || call.state !== 'connected') {
      throw badInput('A gift in a call is sent during a connected call between you and the streamer', {
        field: 'callId',
      });
    }
  }

  private replay(first: SentGift, input: SendGiftInput): SendGiftResult {
    if (
      first.giftId !== input.giftId ||
      first.streamerId !== input.streamerId ||
      first.context !== input.context ||
      first.callId !== input.callId
    ) {
      throw conflict('This clientId was already used for another gift');
    }
    return { ...first, replayed: true };
  }
}

function validateGift(input: GiftInput): void {
  if (input.price <= 0n || input.price > MAX_GIFT_PRICE) {
    throw badInput(`price must be from 1 to ${MAX_GIFT_PRICE} coins`, { field: 'price' });
  }
  if ((input.shareBps === null) === (input.shareCoins === null)) {
    throw badInput('Give the streamer share either in basis points or in coins', { field: 'shareBps' });
  }
  if (
    input.shareBps !== null &&
    (!Number.isInteger(input.shareBps) || input.shareBps < 0 || input.shareBps > 10_000)
  ) {
    throw badInput('shareBps must be an integer from 0 to 10000', { field: 'shareBps' });
  }
  if (input.shareCoins !== null && (input.shareCoins < 0n || input.shareCoins > input.price)) {
    throw badInput('shareCoins must be from 0 to the price', { field: 'shareCoins' });
  }
  if (input.imageMediaId === null && input.imageUrl === null) {
    throw badInput('A gift needs an image: imageMediaId or imageUrl', { field: 'imageUrl' });
  }
}

const snapshot = (g: Gift) => ({
  name: g.name,
  imageMediaId: g.imageMediaId,
  imageUrl: g.imageUrl,
  price: g.price.toString(),
  shareBps: g.shareBps,
  shareCoins: g.shareCoins?.toString() ?? null,
  available: g.available,
  sortOrder: g.sortOrder,
});
