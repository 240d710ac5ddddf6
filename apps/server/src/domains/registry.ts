import path from 'node:path';
import type { MigrationModule } from '../platform/db/migrator.ts';
import { balanceEvents } from './balance/balance.events.ts';
import { billingEvents } from './billing/billing.events.ts';
import { blocklistEvents } from './blocklist/blocklist.events.ts';
import { chatEvents } from './chat/chat.events.ts';
import type { EventDefinition } from './event_log/event-catalogue.ts';
import { favoritesEvents } from './favorites/favorites.events.ts';
import { giftEvents } from './gift/gift.events.ts';
import { interactionEvents } from './interaction/interaction.events.ts';
import { kycEvents } from './kyc/kyc.events.ts';
import { mediaEvents } from './media/media.events.ts';
import { payoutEvents } from './mission_control/payout.events.ts';
import { paymentEvents } from './payment/payment.events.ts';
import { profileEvents } from './profile/profile.events.ts';
import { presenceEvents } from './user/presence/presence.events.ts';
import { userEvents } from './user/user.events.ts';
import { callEvents } from './video/call.events.ts';

/** Every domain with its own schema, in the order their migrations apply. */
export const domainMigrations: MigrationModule[] = [
  { name: 'user', dir: path.join(import.meta.dirname, 'user', 'migrations') },
  { name: 'profile', dir: path.join(import.meta.dirname, 'profile', 'migrations') },
  { name: 'settings', dir: path.join(import.meta.dirname, 'settings', 'migrations') },
  { name: 'presence', dir: path.join(import.meta.dirname, 'user', 'presence', 'migrations') },
  { name: 'event_log', dir: path.join(import.meta.dirname, 'event_log', 'migrations') },
  { name: 'timetable', dir: path.join(import.meta.dirname, 'timetable', 'migrations') },
  { name: 'mission_control', dir: path.join(import.meta.dirname, 'mission_control', 'migrations') },
  { name: 'media', dir: path.join(import.meta.dirname, 'media', 'migrations') },
  { name: 'kyc', dir: path.join(import.meta.dirname, 'kyc', 'migrations') },
  { name: 'notification', dir: path.join(import.meta.dirname, 'notification', 'migrations') },
  { name: 'balance', dir: path.join(import.meta.dirname, 'balance', 'migrations') },
  { name: 'gift', dir: path.join(import.meta.dirname, 'gift', 'migrations') },
  { name: 'billing', dir: path.join(import.meta.dirname, 'billing', 'migrations') },
  { name: 'payment', dir: path.join(import.meta.dirname, 'payment', 'migrations') },
  { name: 'ads', dir: path.join(import.meta.dirname, 'ads', 'migrations') },
  { name: 'video', dir: path.join(import.meta.dirname, 'video', 'migrations') },
  { name: 'blocklist', dir: path.join(import.meta.dirname, 'blocklist', 'migrations') },
  { name: 'favorites', dir: path.join(import.meta.dirname, 'favorites', 'migrations') },
  { name: 'interaction', dir: path.join(import.meta.dirname, 'interaction', 'migrations') },
  { name: 'chat', dir: path.join(import.meta.dirname, 'chat', 'migrations') },
  { name: 'panel', dir: path.join(import.meta.dirname, 'panel', 'migrations') },
  { name: 'gallery', dir: path.join(import.meta.dirname, 'gallery', 'migrations') },
];

/** Every event type the domains emit (their `<domain>.events.ts`): the event log refuses others. */
export const domainEvents: EventDefinition[] = [
  ...userEvents,
  ...presenceEvents,
  ...profileEvents,
  ...mediaEvents,
  ...kycEvents,
  ...balanceEvents,
  ...billingEvents,
  ...payoutEvents,
  ...giftEvents,
  ...paymentEvents,
  ...callEvents,
  ...blocklistEvents,
  ...favoritesEvents,
  ...interactionEvents,
  ...chatEvents,
];
