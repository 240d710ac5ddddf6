import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares a token a vendor sent with the configured one in constant time (both hashed first, so
 * their lengths do not leak either). Used for AppsFlyer's Push API authentication token and Apphud's
 * X-Apphud-Token: both vendors authenticate their pushes with a shared secret in a header.
 */
export function sharedTokenMatches(expected: string, given: string | string[] | undefined): boolean {
  if (typeof given !== 'string' || given.length === 0) return false;
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  // AppsFlyer lets the token go in Authorization; accept it with or without a Bearer prefix.
  const candidate = given.replace(/^Bearer\s+/i, '');
  return timingSafeEqual(digest(expected), digest(candidate));
}
