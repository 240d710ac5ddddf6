import type { AuthPayloadFieldsFragment } from './generated/graphql.ts';

/** What a sign-in or refresh returns; the SDK keeps it in a TokenStore. */
export type SessionTokens = AuthPayloadFieldsFragment;

type MaybePromise<T> = T | Promise<T>;

/**
 * Where the client keeps its tokens: memory by default; an app can persist them
 * (localStorage, the keychain) by passing its own store. `set(null)` forgets them.
 */
export type TokenStore = {
  get(): MaybePromise<SessionTokens | null>;
  set(tokens: SessionTokens | null): MaybePromise<void>;
};

export function memoryTokenStore(initial: SessionTokens | null = null): TokenStore {
  let current = initial;
  return {
    get: () => current,
    set: (tokens) => {
      current = tokens;
    },
  };
}

/**
 * True when the access token is past (or within `skewMs` of) its expiry, so it should be refreshed
 * before use. An unreadable expiry counts as valid: the server has the last word.
 */
export function accessTokenExpired(tokens: SessionTokens, now: number, skewMs: number): boolean {
  const expiresAt = Date.parse(tokens.accessTokenExpiresAt);
  return Number.isFinite(expiresAt) && expiresAt - skewMs <= now;
}
