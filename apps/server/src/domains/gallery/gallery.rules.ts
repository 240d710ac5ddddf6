import { z } from 'zod';

/** The two feeds: what a viewer in each active role is shown. */
export const GALLERY_VIEWER_ROLES = ['user', 'streamer'] as const;
export type GalleryViewerRole = (typeof GALLERY_VIEWER_ROLES)[number];

/** Who a feed shows. The product pairs the two sides: users see streamers, streamers see users. */
export const GALLERY_TARGETS = ['streamer', 'user'] as const;
export type GalleryTarget = (typeof GALLERY_TARGETS)[number];
export const TARGET_OF: Record<GalleryViewerRole, GalleryTarget> = { user: 'streamer', streamer: 'user' };

/** Sort keys the read model has columns (and indexes) for; anything else is refused. */
export const GALLERY_ORDER_KEYS = ['online', 'online_since', 'last_seen_at', 'created_at'] as const;
export type GalleryOrderKey = (typeof GALLERY_ORDER_KEYS)[number];

export const SORT_DIRECTIONS = ['asc', 'desc'] as const;
export type SortDirection = (typeof SORT_DIRECTIONS)[number];

/** The panel's cohort tag pattern (panel.cohorts.tag): a boost naming anything else could never match. */
const COHORT_TAG = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;

export const galleryRulesSchema = z.object({
  target: z.enum(GALLERY_TARGETS),
  filters: z.object({
    onlineOnly: z.boolean(),
    countries: z
      .array(z.string().regex(/^[A-Z]{2}$/, 'countries are ISO 3166-1 alpha-2 codes'))
      .max(50, 'at most 50 countries'),
    languages: z
      .array(z.string().regex(/^[a-z]{2}$/, 'languages are ISO 639-1 codes'))
      .max(20, 'at most 20 languages'),
  }),
  order: z
    .array(z.object({ key: z.enum(GALLERY_ORDER_KEYS), direction: z.enum(SORT_DIRECTIONS) }))
    .min(1, 'at least one order key')
    .max(4, 'at most 4 order keys')
    .refine((keys) => new Set(keys.map((k) => k.key)).size === keys.length, 'an order key appears twice'),
  /** Cards whose account carries the tag (panel cohorts) gain `weight`; the sum sorts before the keys. */
  boosts: z
    .array(
      z.object({
        tag: z.string().regex(COHORT_TAG, 'a boost tag is a cohort tag (a-z, 0-9, _ . : -)'),
        weight: z.number().int().min(-100).max(100),
      }),
    )
    .max(20, 'at most 20 boosts')
    .refine(
      (boosts) => new Set(boosts.map((b) => b.tag)).size === boosts.length,
      'a boost tag appears twice',
    ),
  /** Subtracted from the score of profiles the viewer already viewed (interaction 'profile_view'). */
  seenPenalty: z.number().int().min(0).max(100),
});

export type GalleryRules = z.infer<typeof galleryRulesSchema>;

/** What a fresh database holds (the migration's seed rows), and the fallback if a row is missing. */
export const DEFAULT_RULES: Record<GalleryViewerRole, GalleryRules> = {
  user: {
    target: 'streamer',
    filters: { onlineOnly: false, countries: [], languages: [] },
    order: [
      { key: 'online', direction: 'desc' },
      { key: 'online_since', direction: 'asc' },
    ],
    boosts: [],
    seenPenalty: 0,
  },
  streamer: {
    target: 'user',
    filters: { onlineOnly: false, countries: [], languages: [] },
    order: [
      { key: 'online', direction: 'desc' },
      { key: 'last_seen_at', direction: 'desc' },
    ],
    boosts: [],
    seenPenalty: 0,
  },
};

/**
 * The rules an admin submits for a role: the schema, then the pairing (a role's feed shows the
 * other side). Returns the first problem as { field, message } so the caller can raise a typed error.
 */
export function checkRules(
  role: GalleryViewerRole,
  input: unknown,
): { ok: true; rules: GalleryRules } | { ok: false; field: string; message: string } {
  const parsed = galleryRulesSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = ['rules', ...(issue?.path ?? [])].join('.');
    return { ok: false, field, message: `${field}: ${issue?.message ?? 'is not valid'}` };
  }
  if (parsed.data.target !== TARGET_OF[role]) {
    return {
      ok: false,
      field: 'rules.target',
      message: `rules.target: the ${role} feed shows ${TARGET_OF[role]}s`,
    };
  }
  return { ok: true, rules: parsed.data };
}
