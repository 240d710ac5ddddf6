import { z } from 'zod';
import { isSemver } from './semver.ts';

export const CLIENT_PLATFORMS = ['ios', 'android', 'web'] as const;
export type ClientPlatform = (typeof CLIENT_PLATFORMS)[number];

const semver = z.string().refine(isSemver, 'must be a semantic version such as 2.4.0');

/**
 * Every global setting: its zod schema, default and meaning. A key not listed here cannot be set.
 * Every setting is readable without signing in (the `settings` query), so none may hold a secret.
 */
export const settingDefinitions = {
  'app.min_version.ios': {
    schema: semver,
    default: '0.0.0',
    description: 'Oldest iOS app version allowed to use the API; older ones get UPDATE_REQUIRED',
  },
  'app.min_version.android': {
    schema: semver,
    default: '0.0.0',
    description: 'Oldest Android app version allowed to use the API; older ones get UPDATE_REQUIRED',
  },
  'app.min_version.web': {
    schema: semver,
    default: '0.0.0',
    description: 'Oldest web app version allowed to use the API; older ones get UPDATE_REQUIRED',
  },
  'feature.roulette_enabled': {
    schema: z.boolean(),
    default: true,
    description: 'Whether the random-match roulette is offered',
  },
  'feature.subscriptions_enabled': {
    schema: z.boolean(),
    default: false,
    description: 'Whether subscription products are offered and can be bought (coin packs always are)',
  },
  'feature.gifts_enabled': {
    schema: z.boolean(),
    default: true,
    description: 'Whether gifts can be sent in calls and chat',
  },
  'payout.minimum_coins': {
    schema: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    default: 1000,
    description: 'Smallest payout a streamer or agency may request, in coins',
  },
  'call.ring_timeout_seconds': {
    schema: z.number().int().min(10).max(120),
    default: 30,
    description: 'Seconds a call rings before it is given up as unanswered (10 to 120)',
  },
  'call.connect_timeout_seconds': {
    schema: z.number().int().min(5).max(120),
    default: 30,
    description:
      'Seconds between accepting a call and both sides joining its room before it ends as media_failed (5 to 120)',
  },
  'call.reconnect_grace_seconds': {
    schema: z.number().int().min(5).max(120),
    default: 20,
    description:
      'Seconds a connected side may be gone (left the room, or no heartbeat) before the call ends as disconnected',
  },
  'roulette.heartbeat_timeout_seconds': {
    schema: z.number().int().min(5).max(120),
    default: 15,
    description:
      'Seconds a roulette entry may go without rouletteHeartbeat before it is dropped from the pool (5 to 120)',
  },
  'roulette.cooldown_seconds': {
    schema: z.number().int().min(0).max(86_400),
    default: 600,
    description:
      'Seconds a user and a streamer who skipped each other (a side ended their roulette call) are not matched again',
  },
  'roulette.preference_widen_seconds': {
    schema: z.number().int().min(0).max(600),
    default: 20,
    description:
      'Seconds a roulette entry waits with its language and country preferences before they are dropped (0: ignored)',
  },
  'video.circuit_failure_threshold': {
    schema: z.number().int().min(1).max(100),
    default: 3,
    description:
      'Failures of a video provider (health checks, calls that failed to connect, client reports) within video.circuit_open_seconds that open its circuit: new calls skip it',
  },
  'video.circuit_open_seconds': {
    schema: z.number().int().min(5).max(3600),
    default: 60,
    description: 'How long an open video provider circuit is skipped before one call may try it again',
  },
  'video.prerecorded_offer_mode': {
    schema: z.enum(['off', 'when_no_streamer', 'always']),
    default: 'when_no_streamer',
    description:
      "When users are offered a streamer's prerecorded video: never, only while no streamer is available for a live call, or always",
  },
  'video.prerecorded_max_seconds': {
    schema: z.number().int().min(10).max(3600),
    default: 600,
    description:
      'Longest a prerecorded video may be declared, and so the longest a viewing runs before the server ends it (10 to 3600)',
  },
  'video.prerecorded_offers_per_streamer': {
    schema: z.number().int().min(1).max(50),
    default: 5,
    description: 'How many of their videos a streamer may offer as prerecorded videos at a time (1 to 50)',
  },
  'billing.first_stretch_seconds': {
    schema: z.number().int().min(0).max(3600),
    default: 60,
    description:
      "A call may start only when the payer's wallet covers the tariff's charges up to this second of the call",
  },
  'billing.low_balance_warning_seconds': {
    schema: z.number().int().min(0).max(600),
    default: 30,
    description:
      "Seconds before the checkpoint the payer's wallet cannot cover that balance_running_low is sent (0: never)",
  },
  'balance.spending_order': {
    schema: z.enum(['bonus_first', 'paid_first']),
    default: 'bonus_first',
    description: 'Which coins a spend takes first: bonus coins (granted) or paid coins (bought)',
  },
  'balance.earnings_hold_hours': {
    schema: z
      .number()
      .int()
      .min(0)
      .max(24 * 90),
    default: 72,
    description:
      'Hours earned coins stay pending (so a refund can still claw them back) before they can be paid out',
  },
  'notification.ack_timeout_seconds': {
    schema: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/), z.number().int().min(1).max(600)),
    default: {},
    description:
      'Per notification kind, seconds an in-app notification waits for the acknowledgement before push ' +
      'takes over; kinds not listed keep their catalogue time-out (docs/notifications.md)',
  },
  'chat.max_message_length': {
    schema: z.number().int().min(1).max(2000),
    default: 2000,
    description: 'Longest chat message, in characters after trimming (at most 2000)',
  },
  'chat.rate_limit': {
    schema: z.object({
      messages: z.number().int().min(1).max(10_000),
      windowSeconds: z.number().int().min(1).max(3600),
    }),
    default: { messages: 20, windowSeconds: 10 },
    description: 'How many text messages one account may send within the window; more get RATE_LIMITED',
  },
  'chat.auto_add': {
    schema: z.object({
      enabled: z.boolean(),
      count: z.number().int().min(0).max(20),
      rule: z.object({
        // only: online streamers; first: online ones before the most recently seen; any: by last seen.
        online: z.enum(['only', 'first', 'any']),
        // match: streamers sharing a profile language with the new user; any: every language.
        language: z.enum(['match', 'any']),
      }),
      greeting: z.string().trim().min(1).max(2000),
    }),
    default: {
      enabled: true,
      count: 3,
      rule: { online: 'first', language: 'match' },
      greeting: 'Hi! Welcome to OLO, say hello whenever you like.',
    },
    description:
      'Onboarding auto-add: how many active streamers greet a new user, chosen by rule.online (only, ' +
      'first, any) and rule.language (match, any), with this greeting (docs/chat.md)',
  },
  'blocklist.harassment_threshold': {
    schema: z.number().int().min(1).max(1000),
    default: 5,
    description:
      'Distinct users blocking one account for harassment within the window that trigger blocklist.harassment_action (docs/blocklist.md)',
  },
  'blocklist.harassment_window_hours': {
    schema: z.number().int().min(1).max(8760), // a year
    default: 72,
    description: 'Hours over which harassment blocks are counted against blocklist.harassment_threshold',
  },
  'blocklist.harassment_action': {
    schema: z.enum(['flag', 'ban', 'none']),
    default: 'flag',
    description:
      'What crossing the harassment threshold does, once per crossing: flag (a report moderators see), ban, or none',
  },
  'blocklist.nudity_penalty': {
    schema: z.enum(['none', 'warning', 'fine']),
    default: 'warning',
    description:
      'What a nudity block does to a streamer: nothing, a warning, or a fine of blocklist.nudity_fine_coins',
  },
  'blocklist.nudity_fine_coins': {
    schema: z.number().int().min(1).max(1_000_000),
    default: 100,
    description:
      'Coins taken from a streamer (earnings, available first, capped at what they hold) for the platform on a nudity block when blocklist.nudity_penalty is fine',
  },
} as const satisfies Record<string, { schema: z.ZodType; default: unknown; description: string }>;

export type SettingKey = keyof typeof settingDefinitions;
export type SettingValue<K extends SettingKey> = z.output<(typeof settingDefinitions)[K]['schema']>;
export type SettingValues = { [K in SettingKey]: SettingValue<K> };

export const SETTING_KEYS = Object.keys(settingDefinitions) as SettingKey[];

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(settingDefinitions, key);
}

export function minVersionKey(platform: ClientPlatform): SettingKey {
  return `app.min_version.${platform}`;
}
