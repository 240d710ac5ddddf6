import type { RoomEvent } from '../../providers/video/video.provider.ts';
import type { CallEngine } from './call-engine.ts';
import type { CallRoomService } from './call-room.service.ts';
import { isLive } from './call-state.ts';

export type WebhookOutcome = 'applied' | 'replayed' | 'ignored';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Applies verified provider room events to calls: joins connect a call once both sides are in, a
 * leave starts the reconnect grace, a room that ended ends its call. Each event is recorded by
 * (provider, event id) in the same transaction, so a replay changes nothing twice. Events for a
 * room whose call moved to another provider (after a fall-back) or ended are recorded and ignored.
 */
export async function applyRoomEvents(
  engine: CallEngine,
  rooms: CallRoomService,
  events: RoomEvent[],
): Promise<WebhookOutcome[]> {
  const outcomes: WebhookOutcome[] = [];
  for (const event of events) {
    const callId = UUID.test(event.room) ? event.room : null;
    outcomes.push(
      await engine.change(async (tx, after) => {
        const call = callId ? await engine.deps.repo.lock(tx, callId) : undefined;
        const fresh = await engine.deps.repo.recordReceipt(tx, {
          provider: event.provider,
          eventId: event.eventId,
          callId: call?.id ?? null,
          type: event.type,
          at: engine.now(),
        });
        if (!fresh) return 'replayed';
        if (!call || !isLive(call.state) || call.provider !== event.provider) return 'ignored';
        if (event.type === 'room_ended') {
          await engine.apply(tx, after, call, { type: 'timeout' }, {}, 'system', {
            roomEnded: event.provider,
          });
        } else if (event.side && event.type === 'joined') {
          await rooms.sideJoined(tx, after, call, event.side);
        } else if (event.side) {
          // The vendor's clock, but never ahead of ours (the grace runs on the server's clock).
          const at = new Date(Math.min(event.occurredAt.getTime(), engine.now().getTime()));
          await rooms.sideLeft(tx, after, call, event.side, at);
        }
        return 'applied';
      }),
    );
  }
  return outcomes;
}
