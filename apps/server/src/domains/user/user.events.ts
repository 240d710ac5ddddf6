import { z } from 'zod';
import { defineEvent } from '../event_log/event-catalogue.ts';

export const signUpMethods = ['email', 'phone', 'external'] as const;
export type SignUpMethod = (typeof signUpMethods)[number];

export const userSignUp = defineEvent({
  type: 'user_sign_up',
  version: 1,
  description:
    'An account was created: by email sign-up, by the first phone sign-in, by the first token of an ' +
    'outside issuer (external, with that issuer), or directly by OLO (demo data, tools).',
  payload: z.object({
    userId: z.uuid(),
    method: z.enum(signUpMethods),
    issuer: z.string().min(1).optional(),
  }),
});

export const userSignedIn = defineEvent({
  type: 'user_signed_in',
  version: 1,
  description:
    "A new session was opened for the account (a sign-in on a device). The account's other devices " +
    'receive it on their accountEvents subscription, so a sign-in elsewhere is never silent.',
  payload: z.object({
    userId: z.uuid(),
    sessionId: z.uuid(),
    deviceName: z.string().nullable(),
  }),
});

export const userBanned = defineEvent({
  type: 'user_banned',
  version: 1,
  description:
    'A moderator or admin banned the account: its tokens are refused with BANNED until `until` ' +
    '(null: until unbanned). Emitted again when an existing ban is changed.',
  payload: z.object({
    userId: z.uuid(),
    reason: z.string(),
    until: z.iso.datetime().nullable(),
    bannedBy: z.uuid().nullable(),
  }),
});

export const userUnbanned = defineEvent({
  type: 'user_unbanned',
  version: 1,
  description: 'A moderator or admin lifted the ban before it ended by itself.',
  payload: z.object({ userId: z.uuid(), unbannedBy: z.uuid().nullable() }),
});

export const userDeleted = defineEvent({
  type: 'user_deleted',
  version: 1,
  description:
    "The account was deleted at the user's request. The user domain already erased its personal data " +
    'and kept an anonymised row; other domains (profile, media, …) erase theirs when they consume this.',
  payload: z.object({ userId: z.uuid() }),
});

/** Every event the user domain emits. */
export const userEvents = [userSignUp, userSignedIn, userBanned, userUnbanned, userDeleted];

/** Events the account itself may see on its accountEvents subscription. */
export const accountVisibleEvents = [userSignedIn];
