/** Values the profile accepts for its fixed-list fields. Clients show them translated. */

export const GENDERS = ['female', 'male', 'non_binary'] as const;
export type Gender = (typeof GENDERS)[number];

export const INTERESTS = [
  'art',
  'books',
  'cars',
  'cooking',
  'dancing',
  'fashion',
  'fitness',
  'gaming',
  'languages',
  'movies',
  'music',
  'nature',
  'pets',
  'photography',
  'science',
  'sports',
  'technology',
  'travel',
  'yoga',
] as const;

export const MAX_LANGUAGES = 5;
export const MAX_INTERESTS = 10;
export const MAX_BIO = 500;
export const MAX_HEADLINE = 100;
export const MIN_AGE = 18;

/** What a profile needs before the account may use the service. */
export const ONBOARDING_FIELDS = ['displayName', 'birthDate', 'gender', 'country'] as const;
export type OnboardingField = (typeof ONBOARDING_FIELDS)[number];
