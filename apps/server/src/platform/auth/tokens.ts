import { createHash, randomUUID } from 'node:crypto';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from 'jose';
import { TtlCache } from '../cache/ttl-cache.ts';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors/app-error.ts';
import { isRole, primaryRole, type Role } from './roles.ts';
import type { SigningKeyStore } from './signing-keys.ts';

// Bounds how long a token stays accepted after its signing key's validity is ended by hand.
const VERIFIED_TOKEN_CACHE_MS = 60_000;

export const HASURA_CLAIMS = 'https://hasura.io/jwt/claims';

export type TokenRejection =
  | 'malformed'
  | 'untrusted_issuer'
  | 'invalid_signature'
  | 'expired'
  | 'invalid_claims';

/** A token whose signature, issuer, audience and lifetime were checked. */
export type VerifiedToken = {
  issuer: string;
  issuerKind: 'olo' | 'firebase';
  subject: string;
  /** Roles the token itself allows, when it carries role claims. */
  claimedRoles: Role[] | undefined;
  claimedDefaultRole: Role | undefined;
  sessionId: string | undefined;
  expiresAt: Date;
};

export type TrustedIssuers = {
  olo: { issuer: string; audience: string; keys: SigningKeyStore };
  firebase?: { projectId: string; jwksUrl: string };
};

const reject = (reason: TokenRejection, message: string) =>
  new AppError('UNAUTHENTICATED', message, { reason });

function rolesFromClaims(payload: JWTPayload): { roles: Role[] | undefined; defaultRole: Role | undefined } {
  const hasura = payload[HASURA_CLAIMS];
  if (hasura && typeof hasura === 'object') {
    const claims = hasura as Record<string, unknown>;
    const allowed = claims['x-hasura-allowed-roles'];
    const fallback = claims['x-hasura-default-role'];
    return {
      roles: Array.isArray(allowed) ? allowed.filter(isRole) : undefined,
      defaultRole: isRole(fallback) ? fallback : undefined,
    };
  }
  if (Array.isArray(payload.roles)) {
    const roles = payload.roles.filter(isRole);
    return { roles, defaultRole: isRole(payload.role) ? payload.role : undefined };
  }
  if (isRole(payload.role)) return { roles: [payload.role], defaultRole: payload.role };
  return { roles: undefined, defaultRole: undefined };
}

function translateJoseError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof joseErrors.JWTExpired) return reject('expired', 'Token expired');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return reject('invalid_claims', `Token claim "${error.claim}" is not valid`);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return reject('invalid_signature', 'Token signature is not valid');
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed)
    return reject('invalid_signature', 'Token algorithm not allowed');
  if (error instanceof joseErrors.JWKSNoMatchingKey)
    return reject('invalid_signature', 'Token signing key unknown');
  return reject('malformed', 'Token is not valid');
}

export class TokenService {
  private readonly trusted: TrustedIssuers;
  private readonly clock: Clock;
  private readonly accessTokenTtlSeconds: number;
  private readonly firebaseKeys: ReturnType<typeof createRemoteJWKSet> | undefined;
  private readonly verified: TtlCache<VerifiedToken>;

  constructor(trusted: TrustedIssuers, clock: Clock, accessTokenTtlSeconds: number) {
    this.trusted = trusted;
    this.clock = clock;
    this.accessTokenTtlSeconds = accessTokenTtlSeconds;
    this.verified = new TtlCache({ ttlMs: VERIFIED_TOKEN_CACHE_MS, maxEntries: 20_000, clock });
    this.firebaseKeys = trusted.firebase
      ? createRemoteJWKSet(new URL(trusted.firebase.jwksUrl), {
          cooldownDuration: 30_000,
          cacheMaxAge: 600_000,
        })
      : undefined;
  }

  get firebaseIssuer(): string | undefined {
    return this.trusted.firebase
      ? `https://securetoken.google.com/${this.trusted.firebase.projectId}`
      : undefined;
  }

  async issueAccessToken(input: {
    userId: string;
    sessionId: string;
    roles: Role[];
  }): Promise<{ accessToken: string; expiresAt: Date }> {
    const { kid, key } = await this.trusted.olo.keys.signingKey();
    const now = Math.floor(this.clock.now().getTime() / 1000);
    const exp = now + this.accessTokenTtlSeconds;
    const accessToken = await new SignJWT({
      sid: input.sessionId,
      [HASURA_CLAIMS]: {
        'x-hasura-user-id': input.userId,
        'x-hasura-default-role': primaryRole(input.roles),
        'x-hasura-allowed-roles': input.roles,
      },
    })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .setIssuer(this.trusted.olo.issuer)
      .setAudience(this.trusted.olo.audience)
      .setSubject(input.userId)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(key);
    return { accessToken, expiresAt: new Date(exp * 1000) };
  }

  /**
   * Verifies a bearer token against the issuer it names; throws UNAUTHENTICATED with a reason.
   * A token that verified is remembered until it expires (at most a minute): the signature check is
   * the largest cost of an authenticated request, and clients send the same token many times.
   */
  async verify(token: string): Promise<VerifiedToken> {
    const key = createHash('sha256').update(token).digest('base64url');
    const verified = await this.verified.getOrLoad(
      key,
      () => this.verifyUncached(token),
      (v) => v.expiresAt.getTime(),
    );
    if (verified.expiresAt.getTime() <= this.clock.now().getTime()) throw reject('expired', 'Token expired');
    return verified;
  }

  private async verifyUncached(token: string): Promise<VerifiedToken> {
    let issuer: string | undefined;
    try {
      decodeProtectedHeader(token);
      issuer = decodeJwt(token).iss;
    } catch {
      throw reject('malformed', 'Token is not a JWT');
    }
    const currentDate = this.clock.now();
    try {
      if (issuer === this.trusted.olo.issuer) {
        const { payload } = await jwtVerify(
          token,
          async (header) => {
            const key = await this.trusted.olo.keys.verificationKey(header.kid);
            if (!key) throw reject('invalid_signature', 'Token signing key unknown');
            return key;
          },
          {
            issuer: this.trusted.olo.issuer,
            audience: this.trusted.olo.audience,
            algorithms: ['ES256'],
            requiredClaims: ['sub', 'exp', 'iat'],
            currentDate,
          },
        );
        return this.toVerified(payload, 'olo');
      }
      const firebaseIssuer = this.firebaseIssuer;
      if (firebaseIssuer && issuer === firebaseIssuer && this.firebaseKeys && this.trusted.firebase) {
        const { payload } = await jwtVerify(token, this.firebaseKeys, {
          issuer: firebaseIssuer,
          audience: this.trusted.firebase.projectId,
          algorithms: ['RS256'],
          requiredClaims: ['sub', 'exp', 'iat'],
          currentDate,
        });
        if (
          typeof payload.auth_time === 'number' &&
          payload.auth_time * 1000 > currentDate.getTime() + 60_000
        ) {
          throw reject('invalid_claims', 'Token claim "auth_time" is in the future');
        }
        return this.toVerified(payload, 'firebase');
      }
    } catch (error) {
      throw translateJoseError(error);
    }
    throw reject('untrusted_issuer', 'Token issuer is not trusted');
  }

  private toVerified(payload: JWTPayload, issuerKind: VerifiedToken['issuerKind']): VerifiedToken {
    if (!payload.sub || !payload.iss || typeof payload.exp !== 'number') {
      throw reject('invalid_claims', 'Token lacks sub, iss or exp');
    }
    const { roles, defaultRole } = rolesFromClaims(payload);
    return {
      issuer: payload.iss,
      issuerKind,
      subject: payload.sub,
      claimedRoles: roles,
      claimedDefaultRole: defaultRole,
      sessionId: typeof payload.sid === 'string' ? payload.sid : undefined,
      expiresAt: new Date(payload.exp * 1000),
    };
  }
}
