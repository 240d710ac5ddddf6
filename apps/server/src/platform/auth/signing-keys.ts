import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK } from 'jose';
import { sql, type Transaction } from 'kysely';
import type { Clock } from '../clock.ts';
import type { Db } from '../db/database.ts';
import type { Database } from '../db/database.types.ts';

export type SigningKey = { kid: string; key: Awaited<ReturnType<typeof importJWK>> };

type StoredKey = {
  kid: string;
  publicJwk: JWK;
  privateJwk: JWK | SealedJwk;
  createdAt: Date;
  retiredAt: Date | null;
  expiresAt: Date | null;
};

type VerificationKey = Awaited<ReturnType<typeof importJWK>>;

type SealedJwk = { sealed: 'A256GCM'; iv: string; tag: string; data: string };

// Any constant works; it only has to be the same for every process of the platform.
const SIGNING_KEY_LOCK = 7_410_002;
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
  private readonly sealingKey: Buffer | undefined;

  /** With `secret`, private keys are stored encrypted (AES-256-GCM); without it, as plain JWK. */
  constructor(db: Db, clock: Clock, tokenLifetimeSeconds: number, secret?: string) {
    this.db = db;
    this.clock = clock;
    this.tokenLifetimeSeconds = tokenLifetimeSeconds;
    this.sealingKey = secret ? createHash('sha256').update(secret).digest() : undefined;
  }

  /**
   * Creates the first key, or rotates when the signing key is older than `maxAgeDays`. Safe to call
   * from several processes at once: an advisory lock makes one of them rotate.
   */
  async ensureSigningKey(maxAgeDays: number): Promise<void> {
    const now = this.clock.now();
    const rotated = await this.db.transaction().execute(async (tx) => {
      await sql`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`.execute(tx);
      const current = await tx
        .selectFrom('auth.signing_keys')
        .select('created_at')
        .where('retired_at', 'is', null)
        .orderBy('created_at', 'desc')
        .executeTakeFirst();
      if (current && now.getTime() - current.created_at.getTime() <= maxAgeDays * 86_400_000) return false;
      await this.insertNewKey(tx, now);
      return true;
    });
    if (rotated || !this.signer) await this.reload();
  }

  /** A new key signs from now on; the previous ones verify until the tokens they signed expire. */
  async rotate(): Promise<string> {
    const kid = await this.db.transaction().execute(async (tx) => {
      await sql`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`.execute(tx);
      return this.insertNewKey(tx, this.clock.now());
    });
    await this.reload();
    return kid;
  }

  private async insertNewKey(tx: Transaction<Database>, now: Date): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
    const kid = randomUUID();
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ALGORITHM, use: 'sig' };
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: ALGORITHM };
    // Refresh tokens are not JWTs, so access-token lifetime plus a margin is enough.
    const expiresAt = new Date(now.getTime() + (this.tokenLifetimeSeconds + 300) * 1000);
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
        private_jwk: JSON.stringify(this.seal(privateJwk)),
        created_at: now,
      })
      .execute();
    return kid;
  }

  private seal(jwk: JWK): JWK | SealedJwk {
    if (!this.sealingKey) return jwk;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.sealingKey, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify(jwk), 'utf8'), cipher.final()]);
    return {
      sealed: 'A256GCM',
      iv: iv.toString('base64url'),
      tag: cipher.getAuthTag().toString('base64url'),
      data: data.toString('base64url'),
    };
  }

  private unseal(stored: JWK | SealedJwk): JWK {
    if (!('sealed' in stored)) return stored;
    if (!this.sealingKey) {
      throw new Error('the stored signing keys are encrypted: set AUTH_SIGNING_KEY_SECRET');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.sealingKey, Buffer.from(stored.iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(stored.tag, 'base64url'));
      const plain = Buffer.concat([decipher.update(Buffer.from(stored.data, 'base64url')), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as JWK;
    } catch {
      throw new Error('AUTH_SIGNING_KEY_SECRET does not decrypt the stored signing keys');
    }
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
    await this.reloadIfStale();
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
      privateJwk: r.private_jwk as JWK | SealedJwk,
      createdAt: r.created_at,
      retiredAt: r.retired_at,
      expiresAt: r.expires_at,
    }));
    this.loadedAt = this.clock.now().getTime();
    const current = this.keys.find((k) => !k.retiredAt);
    this.signer = current
      ? { kid: current.kid, key: await importJWK(this.unseal(current.privateJwk), ALGORITHM) }
      : undefined;
  }
}
