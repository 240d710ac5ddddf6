import { z } from 'zod';
import { defineEvent } from '../event_log/event-catalogue.ts';

const reason = z.enum(['nudity', 'harassment', 'spam', 'fake_profile', 'underage', 'other']);

export const userBlocked = defineEvent({
  type: 'user_blocked',
  version: 1,
  description:
    'A user blocked another one (only when it was not blocked already: blocking twice emits once). ' +
    'The video domain ends an ongoing call between them; the blocklist rules (harassment threshold, ' +
    'nudity penalty) run on it.',
  payload: z.object({
    blockId: z.uuid(),
    blockerId: z.uuid(),
    blockedId: z.uuid(),
    reason,
    text: z.string().nullable(),
  }),
});

export const userUnblocked = defineEvent({
  type: 'user_unblocked',
  version: 1,
  description: 'A user lifted a block (only when there was one).',
  payload: z.object({ blockerId: z.uuid(), blockedId: z.uuid() }),
});

export const userWarned = defineEvent({
  type: 'user_warned',
  version: 1,
  description:
    'An account received a warning from the blocklist rules (a nudity block against a streamer) or ' +
    'from a moderator acting on a block report. Notifications can tell the account.',
  payload: z.object({
    userId: z.uuid(),
    blockId: z.uuid(),
    reason,
    source: z.enum(['nudity_rule', 'moderator']),
  }),
});

export const userFined = defineEvent({
  type: 'user_fined',
  version: 1,
  description:
    'A streamer was fined through the ledger for a nudity block (blocklist.nudity_penalty = fine). ' +
    '`coins` is what was taken, capped at their earnings; notifications can tell the account.',
  payload: z.object({
    userId: z.uuid(),
    blockId: z.uuid(),
    coins: z.string().regex(/^\d+$/),
    ledgerTransactionId: z.string(),
  }),
});

export const userFlagged = defineEvent({
  type: 'user_flagged',
  version: 1,
  description:
    'The harassment rule crossed its threshold for an account (once per crossing). With the action ' +
    'ban, `outcome` tells whether the ban happened (banned, already_banned, ban_refused).',
  payload: z.object({
    flagId: z.uuid(),
    userId: z.uuid(),
    action: z.enum(['flag', 'ban']),
    outcome: z.enum(['flagged', 'banned', 'already_banned', 'ban_refused']),
    blockCount: z.number().int(),
  }),
});

/** Every event the blocklist domain emits. */
export const blocklistEvents = [userBlocked, userUnblocked, userWarned, userFined, userFlagged];
