import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signs and checks the local backend's download URLs: `/media/:id/:variant?expires=…&sig=…`, where sig is
 * HMAC-SHA256 (MEDIA_URL_SECRET) over the path and the expiry. A URL is a capability: whoever holds it
 * may fetch that one rendition until it expires, so it is only issued after the permission check.
 */
export class MediaUrlSigner {
  private readonly secret: string;

  constructor(secret: string) {
    this.secret = secret;
  }

  private mac(path: string, expires: number): Buffer {
    return createHmac('sha256', this.secret).update(`GET\n${path}\n${expires}`).digest();
  }

  /** The path and query of a URL valid until `expiresAt` (whole seconds). */
  sign(path: string, expiresAt: Date): string {
    const expires = Math.floor(expiresAt.getTime() / 1000);
    return `${path}?expires=${expires}&sig=${this.mac(path, expires).toString('base64url')}`;
  }

  /** True when `sig` is this server's signature of the path and expiry, and the expiry has not passed. */
  verify(path: string, expires: unknown, sig: unknown, now: Date): boolean {
    if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires)) return false;
    if (typeof sig !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return false;
    const expiresAt = Number(expires);
    const expected = this.mac(path, expiresAt);
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    return now.getTime() < expiresAt * 1000;
  }
}
