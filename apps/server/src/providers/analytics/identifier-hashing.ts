import { createHash } from 'node:crypto';

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');

/** Snapchat (and Meta-style CAPIs): trimmed, lower-cased email, SHA-256 hex. */
export function hashEmail(email: string): string {
  return sha256(email.trim().toLowerCase());
}

/**
 * Phone as Snapchat normalises it before hashing: digits only, with the country code, no leading
 * "+" or "00" (our phones are stored in E.164, so this drops the "+").
 */
export function hashPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '').replace(/^00/, '');
  return sha256(digits);
}

/** Any other identifier (our user id as external_id): trimmed, lower-cased, SHA-256 hex. */
export function hashIdentifier(value: string): string {
  return sha256(value.trim().toLowerCase());
}
