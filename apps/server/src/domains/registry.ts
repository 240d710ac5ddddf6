import path from 'node:path';
import type { MigrationModule } from '../platform/db/migrator.ts';
import type { EventDefinition } from './event_log/event-catalogue.ts';
import { kycEvents } from './kyc/kyc.events.ts';
import { mediaEvents } from './media/media.events.ts';
import { profileEvents } from './profile/profile.events.ts';
import { presenceEvents } from './user/presence/presence.events.ts';
import { userEvents } from './user/user.events.ts';

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
];

/** Every event type the domains emit (their `<domain>.events.ts`): the event log refuses others. */
export const domainEvents: EventDefinition[] = [
  ...userEvents,
  ...presenceEvents,
  ...profileEvents,
  ...mediaEvents,
  ...kycEvents,
];
