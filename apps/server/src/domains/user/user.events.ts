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

/** Every event the user domain emits. */
export const userEvents = [userSignUp, userSignedIn];

/** Events the account itself may see on its accountEvents subscription. */
export const accountVisibleEvents = [userSignedIn];
