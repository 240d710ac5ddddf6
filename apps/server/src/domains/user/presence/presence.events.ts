import { z } from 'zod';
import { defineEvent } from '../../event_log/event-catalogue.ts';
import { AVAILABILITIES } from './presence.tables.ts';

export const userCameOnline = defineEvent({
  type: 'user_came_online',
  version: 1,
  description:
    'The account opened its first authenticated WebSocket on any node (it was offline). Emitted once ' +
    'per transition, in the transaction that recorded it.',
  payload: z.object({
    userId: z.uuid(),
    onlineSince: z.iso.datetime(),
  }),
});

export const offlineReasons = ['disconnected', 'node_expired'] as const;

export const userWentOffline = defineEvent({
  type: 'user_went_offline',
  version: 1,
  description:
    "The account's last authenticated WebSocket closed (disconnected), or the node holding it stopped " +
    'sending heartbeats and the sweep removed its connections (node_expired).',
  payload: z.object({
    userId: z.uuid(),
    onlineSince: z.iso.datetime(),
    lastSeenAt: z.iso.datetime(),
    reason: z.enum(offlineReasons),
  }),
});

export const userAvailabilityChanged = defineEvent({
  type: 'user_availability_changed',
  version: 1,
  description:
    "A streamer's availability for calls changed (set by the streamer, or busy by the calls domain).",
  payload: z.object({
    userId: z.uuid(),
    availability: z.enum(AVAILABILITIES),
    previous: z.enum(AVAILABILITIES),
  }),
});

/** Every event the presence module emits. */
export const presenceEvents = [userCameOnline, userWentOffline, userAvailabilityChanged];
