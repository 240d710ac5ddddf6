import { timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from 'jose';

export const GOOGLE_OIDC_JWKS_URL = 'https://www.googleapis.com/oauth2/v3/certs';
const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];

export type PubSubPushAuthOptions = {
  /**
   * OIDC: the audience configured on the push subscription. When set, every push must carry
   * `Authorization: Bearer <Google-signed ID token>` for that audience.
   */
  audience?: string;
  /** The push subscription's service account; when set, the token's `email` must be it (and verified). */
  serviceAccountEmail?: string;
  jwksUrl?: string;
  /** Shared secret: when set, the push URL must carry `?token=<it>`. */
  sharedToken?: string;
  /** Clock for the token's exp/nbf (seconds since the epoch). */
  now: () => Date;
};

export class PubSubPushAuthError extends Error {
  override name = 'PubSubPushAuthError';
}

/**
 * Authenticates a Pub/Sub push request as Google documents it: the OIDC ID token Pub/Sub attaches
 * (signed by Google, checked against Google's JWKS, issuer accounts.google.com, our audience, the
 * subscription's service account), and/or a shared secret in the push URL. Whatever is configured
 * must all pass; with nothing configured every push is refused.
 */
export class PubSubPushAuthenticator {
  private readonly options: PubSubPushAuthOptions;
  private readonly jwks: JWTVerifyGetKey | undefined;

  constructor(options: PubSubPushAuthOptions) {
    this.options = options;
    this.jwks = options.audience
      ? createRemoteJWKSet(new URL(options.jwksUrl ?? GOOGLE_OIDC_JWKS_URL))
      : undefined;
  }

  get configured(): boolean {
    return Boolean(this.options.audience || this.options.sharedToken);
  }

  async authenticate(request: {
    authorization: string | undefined;
    token: string | undefined;
  }): Promise<void> {
    if (!this.configured) throw new PubSubPushAuthError('push authentication is not configured');
    const { audience, sharedToken, serviceAccountEmail } = this.options;
    if (sharedToken) {
      const given = Buffer.from(request.token ?? '');
      const expected = Buffer.from(sharedToken);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new PubSubPushAuthError('bad push token');
      }
    }
    if (audience && this.jwks) {
      const match = /^Bearer (.+)$/i.exec(request.authorization ?? '');
      if (!match?.[1]) throw new PubSubPushAuthError('missing bearer token');
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(match[1], this.jwks, {
          issuer: GOOGLE_ISSUERS,
          audience,
          algorithms: ['RS256'],
          currentDate: this.options.now(),
        }));
      } catch {
        throw new PubSubPushAuthError('bad bearer token');
      }
      if (serviceAccountEmail && (payload.email !== serviceAccountEmail || payload.email_verified !== true)) {
        throw new PubSubPushAuthError('push from another service account');
      }
    }
  }
}
