import { importPKCS8, SignJWT } from 'jose';
import { z } from 'zod';
import type { Clock } from '../../platform/clock.ts';

/** The fields of a Google service-account key file (JSON) that the token exchange needs. */
export const serviceAccountSchema = z.object({
  client_email: z.email(),
  private_key: z.string().includes('PRIVATE KEY'),
  private_key_id: z.string().min(1).optional(),
  token_uri: z.url().optional(),
});
export type ServiceAccountCredentials = z.infer<typeof serviceAccountSchema>;

const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
// Ask for a new token this long before the current one expires, so a request never carries a stale one.
const REFRESH_MARGIN_MS = 60_000;
const ASSERTION_LIFETIME_SECONDS = 3600;

const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  expires_in: z.coerce.number().positive(),
  token_type: z.string().optional(),
});

export class ServiceAccountTokenError extends Error {
  override name = 'ServiceAccountTokenError';
}

/** Parses a key file's JSON; throws a one-line error naming what is wrong (never the key). */
export function parseServiceAccount(json: string): ServiceAccountCredentials {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new ServiceAccountTokenError('service account key is not JSON');
  }
  const parsed = serviceAccountSchema.safeParse(value);
  if (!parsed.success) {
    throw new ServiceAccountTokenError(
      `service account key: ${parsed.error.issues[0]?.path.join('.')} is invalid`,
    );
  }
  return parsed.data;
}

/**
 * OAuth2 access tokens for a Google service account (RFC 7523 JWT bearer grant, as Google documents
 * for server-to-server calls): a JWT signed RS256 with the account's key, exchanged at the token
 * endpoint. The token is cached until shortly before it expires, and concurrent callers share one
 * exchange. Used by the Google Play client; FCM can use it with its own scope.
 */
export class ServiceAccountTokenSource {
  private readonly options: {
    credentials: ServiceAccountCredentials;
    scopes: string[];
    clock: Clock;
    /** Overrides the key file's token_uri (tests: a loopback server). */
    tokenUrl?: string;
    fetch?: typeof fetch;
  };
  private cached: { token: string; expiresAt: number } | undefined;
  private inFlight: Promise<string> | undefined;
  private key: ReturnType<typeof importPKCS8> | undefined;

  constructor(options: ServiceAccountTokenSource['options']) {
    this.options = options;
  }

  get tokenUrl(): string {
    return this.options.tokenUrl ?? this.options.credentials.token_uri ?? GOOGLE_TOKEN_URL;
  }

  async accessToken(): Promise<string> {
    const now = this.options.clock.now().getTime();
    if (this.cached && this.cached.expiresAt - REFRESH_MARGIN_MS > now) return this.cached.token;
    this.inFlight ??= this.exchange().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Drops the cached token (after the API answered 401 with it). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async exchange(): Promise<string> {
    const { credentials, scopes, clock } = this.options;
    this.key ??= importPKCS8(credentials.private_key, 'RS256');
    const issuedAt = Math.floor(clock.now().getTime() / 1000);
    const assertion = await new SignJWT({ scope: scopes.join(' ') })
      .setProtectedHeader({
        alg: 'RS256',
        typ: 'JWT',
        ...(credentials.private_key_id ? { kid: credentials.private_key_id } : {}),
      })
      .setIssuer(credentials.client_email)
      .setAudience(this.tokenUrl)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ASSERTION_LIFETIME_SECONDS)
      .sign(await this.key);
    const response = await (this.options.fetch ?? fetch)(this.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) {
      throw new ServiceAccountTokenError(`token endpoint answered ${response.status}`);
    }
    const parsed = tokenResponseSchema.safeParse(await response.json());
    if (!parsed.success) throw new ServiceAccountTokenError('token endpoint sent no access_token');
    this.cached = {
      token: parsed.data.access_token,
      expiresAt: clock.now().getTime() + parsed.data.expires_in * 1000,
    };
    return parsed.data.access_token;
  }
}
