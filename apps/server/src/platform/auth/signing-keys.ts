import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK } from 'jose';
import type { Clock } from '../clock.ts';
import type { Db } from '../db/database.ts';

export type SigningKey = { kid: string; key: Awaited<ReturnType<typeof importJWK>> };

type StoredKey = {
  kid: string;
  publicJwk: JWK;
  privateJwk: JWK;
  createdAt: Date;
  retiredAt: Date | null;
  expiresAt: Date | null;
};

type VerificationKey = Awaited<ReturnType<typeof importJWK>>;

const RELOAD_INTERVAL_MS = 30_000;
const ALGORITHM = 'ES256';

/**
 * The OLO issuer's keys, kept in `auth.signing_keys`. The newest unretired key signs;
 * retired keys keep verifying until `expires_at` (longer than any token they signed).
 * Every process reloads the set periodically and when it meets an unknown `kid`.
 */
export class SigningKeyStore {
  private keys: StoredKey[] = [];
  private loadedAt = 0;
  private signer: SigningKey | undefined;
  private readonly imported = new Map<string, Promise<VerificationKey>>();
  private readonly db: Db;
  private readonly clock: Clock;
  private readonly tokenLifetimeSeconds: number;

  constructor(db: Db, clock: Clock, tokenLifetimeSeconds: number) {
    this.db = db;
    this.clock = clock;
    this.tokenLifetimeSeconds = tokenLifetimeSeconds;
  }

  /** Creates the first key, or rotates when the signing key is older than `maxAgeDays`. */
  async ensureSigningKey(maxAgeDays: number): Promise<void> {
    await this.reload();
    const current = this.keys.find((k) => !k.retiredAt);
    const ageMs = current
      ? this.clock.now().getTime() - current.createdAt.getTime()
      : Number.POSITIVE_INFINITY;
    if (ageMs > maxAgeDays * 86_400_000) await this.rotate();
  }

  /** A new key signs from now on; the previous ones verify until the tokens they signed expire. */
  async rotate(): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
    const kid = randomUUID();
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ALGORITHM, use: 'sig' };
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: ALGORITHM };
    const now = this.clock.now();
    // Refresh tokens are not JWTs, so access-token lifetime plus a margin is enough.
    const expiresAt = new Date(now.getTime() + (this.tokenLifetimeSeconds + 300) * 1000);
    await this.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('auth.signing_keys')
        .set({ retired_at: now, expires_at: expiresAt })
        .where('retired_at', 'is', null)
        .execute();
      await tx
        .insertInto('auth.signing_keys')
        .values({
          kid,
          algorithm: ALGORITHM,
          public_jwk: JSON.stringify(publicJwk),
          private_jwk: JSON.stringify(privateJwk),
          created_at: now,
        })
        .execute();
    });
    await this.reload();
    return kid;
  }

  async signingKey(): Promise<SigningKey> {
    await this.reloadIfStale();
    if (!this.signer) throw new Error('no OLO signing key: ensureSigningKey() was not called');
    return this.signer;
  }

  /** The public keys that still verify, as served at /.well-known/jwks.json. */
  async jwks(): Promise<JSONWebKeySet> {
    await this.reloadIfStale();
    const now = this.clock.now();
    return {
      keys: this.keys.filter((k) => !k.expiresAt || k.expiresAt > now).map((k) => k.publicJwk),
    };
  }

  /** Public key for a `kid`, reloading once if it is unknown (another node may have rotated). */
  async verificationKey(kid: string | undefined): Promise<VerificationKey | undefined> {
    if (!kid) return undefined;
    let found = this.find(kid);
    if (!found && this.clock.now().getTime() - this.loadedAt > 1000) {
      await this.reload();
      found = this.find(kid);
    }
    if (!found) return undefined;
    let key = this.imported.get(kid);
    if (!key) {
      key = importJWK(found.publicJwk, ALGORITHM);
      this.imported.set(kid, key);
    }
    return key;
  }

  private find(kid: string): StoredKey | undefined {
    const now = this.clock.now();
    return this.keys.find((k) => k.kid === kid && (!k.expiresAt || k.expiresAt > now));
  }

  private async reloadIfStale(): Promise<void> {
    if (this.clock.now().getTime() - this.loadedAt > RELOAD_INTERVAL_MS) await this.reload();
  }

  private async reload(): Promise<void> {
    const rows = await this.db
      .selectFrom('auth.signing_keys')
      .selectAll()
      .orderBy('created_at', 'desc')
      .execute();
    this.keys = rows.map((r) => ({
      kid: r.kid,
      publicJwk: r.public_jwk as JWK,
      privateJwk: r.private_jwk as JWK,
      createdAt: r.created_at,
      retiredAt: r.retired_at,
      expiresAt: r.expires_at,
    }));
    this.loadedAt = this.clock.now().getTime();
    const current = this.keys.find((k) => !k.retiredAt);
    this.signer = current
      ? { kid: current.kid, key: await importJWK(current.privateJwk, ALGORITHM) }
      : undefined;
  }
}
