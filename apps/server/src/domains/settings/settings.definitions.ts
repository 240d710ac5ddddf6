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
  'feature.gifts_enabled': {
    schema: z.boolean(),
    default: true,
    description: 'Whether gifts can be sent in calls and chat',
  },
  'call.ring_timeout_seconds': {
    schema: z.number().int().min(10).max(120),
    default: 30,
    description: 'Seconds a call rings before it is given up as unanswered (10 to 120)',
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
