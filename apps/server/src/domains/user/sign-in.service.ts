import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { burnPasswordCheck, hashPassword, verifyPassword } from '../../platform/auth/passwords.ts';
import type { Clock } from '../../platform/clock.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { AppError, badInput, conflict, rateLimited } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import type { SmsProvider } from '../../providers/sms/sms.provider.ts';
import type { AccountService } from './account.service.ts';
import type { AuthTokens, DeviceInfo, SessionService } from './session.service.ts';
import type { UserRepository } from './user.repository.ts';
import type { LoginMethod } from './user.tables.ts';

export const phoneSchema = z
  .string()
  .trim()
  .regex(/^\+[1-9]\d{7,14}$/, 'phone must be in E.164 form, like +14155550123');
export const emailSchema = z.string().trim().toLowerCase().pipe(z.email('email is not valid').max(254));
export const passwordSchema = z
  .string()
  .min(10, 'password must have at least 10 characters')
  .max(200, 'password must have at most 200 characters');
const codeSchema = z
  .string()
  .trim()
  .regex(/^\d{6}$/, 'code must be 6 digits');

const MAX_CODE_ATTEMPTS = 5;
const MAX_CODES_PER_WINDOW = 5;

export type ThrottleSettings = { windowSeconds: number; maxPerIdentifier: number; maxPerIp: number };

const hashCode = (challengeSalt: string, code: string) =>
  createHash('sha256').update(`${challengeSalt}:${code}`).digest('base64url');

/** Built-in sign-in for self-hosting: phone + one-time code, and email + password. */
export class SignInService {
  private readonly repo: UserRepository;
  private readonly accounts: AccountService;
  private readonly sessions: SessionService;
  private readonly sms: SmsProvider;
  private readonly clock: Clock;
  private readonly throttle: ThrottleSettings;
  private readonly otpTtlSeconds: number;

  constructor(deps: {
    repo: UserRepository;
    accounts: AccountService;
    sessions: SessionService;
    sms: SmsProvider;
    clock: Clock;
    throttle: ThrottleSettings;
    otpTtlSeconds: number;
  }) {
    this.repo = deps.repo;
    this.accounts = deps.accounts;
    this.sessions = deps.sessions;
    this.sms = deps.sms;
    this.clock = deps.clock;
    this.throttle = deps.throttle;
    this.otpTtlSeconds = deps.otpTtlSeconds;
  }

  async requestPhoneCode(input: { phone: string; ip: string | null }): Promise<{ expiresAt: Date }> {
    const phone = parseOrThrow(phoneSchema, input.phone, 'phone');
    await this.assertNotThrottled('phone_code', phone, input.ip);
    const now = this.clock.now();
    const since = new Date(now.getTime() - this.throttle.windowSeconds * 1000);
    if ((await this.repo.countOtpChallengesSince({ phone }, since)) >= MAX_CODES_PER_WINDOW) {
      throw rateLimited(
        'Too many codes requested for this phone; try again later',
        this.throttle.windowSeconds,
      );
    }
    // One client must not spray codes across many numbers either.
    if (
      input.ip &&
      (await this.repo.countOtpChallengesSince({ ip: input.ip }, since)) >= this.throttle.maxPerIp
    ) {
      throw rateLimited(
        'Too many codes requested from this address; try again later',
        this.throttle.windowSeconds,
      );
    }
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const expiresAt = new Date(now.getTime() + this.otpTtlSeconds * 1000);
    await withTransaction(this.repo.db, async (tx) => {
      await this.repo.insertOtpChallenge(tx, {
        phone,
        ip: input.ip,
        codeHash: hashCode(phone, code),
        expiresAt,
        at: now,
      });
    });
    await this.sms.send({ to: phone, body: `Your OLO code is ${code}` });
    return { expiresAt };
  }

  async signInWithPhone(input: { phone: string; code: string } & DeviceInfo): Promise<AuthTokens> {
    const phone = parseOrThrow(phoneSchema, input.phone, 'phone');
    const code = parseOrThrow(codeSchema, input.code, 'code');
    await this.assertNotThrottled('phone_code', phone, input.ip);
    const now = this.clock.now();
    const outcome = await withTransaction(this.repo.db, async (tx) => {
      const challenge = await this.repo.lockOpenOtpChallenge(tx, phone, now);
      if (!challenge) return { ok: false, reason: 'no_open_code' } as const;
      const matches = timingSafeEqual(Buffer.from(challenge.codeHash), Buffer.from(hashCode(phone, code)));
      if (!matches) {
        const attempts = challenge.attempts + 1;
        await this.repo.updateOtpChallenge(tx, challenge.id, {
          attempts,
          ...(attempts >= MAX_CODE_ATTEMPTS ? { consumedAt: now } : {}),
        });
        return { ok: false, reason: 'wrong_code' } as const;
      }
      await this.repo.updateOtpChallenge(tx, challenge.id, { consumedAt: now });
      let credential = await this.repo.findCredential('phone', phone, tx);
      if (!credential) {
        const user = await this.repo.createUser(tx);
        await this.repo.insertIdentity(tx, user.id, this.issuerOf(), user.id);
        await this.repo.insertCredential(tx, { userId: user.id, kind: 'phone', identifier: phone });
        await this.accounts.emitSignUp(tx, user.id, 'phone');
        credential = { userId: user.id, passwordHash: null };
      }
      const user = await this.repo.findUser(credential.userId, tx);
      if (!user) throw new Error('credential without user');
      return { ok: true, tokens: await this.sessions.open(tx, user, input) } as const;
    });
    return this.finish('phone_code', phone, input.ip, outcome, 'Code is wrong or expired');
  }

  async signUpWithEmail(input: { email: string; password: string } & DeviceInfo): Promise<AuthTokens> {
    const email = parseOrThrow(emailSchema, input.email, 'email');
    const password = parseOrThrow(passwordSchema, input.password, 'password');
    await this.assertNotThrottled('email_password', email, input.ip);
    const passwordHash = await hashPassword(password);
    let tokens: AuthTokens;
    try {
      tokens = await withTransaction(this.repo.db, async (tx) => {
        const user = await this.repo.createUser(tx);
        await this.repo.insertIdentity(tx, user.id, this.issuerOf(), user.id);
        const inserted = await this.repo.insertCredential(tx, {
          userId: user.id,
          kind: 'email',
          identifier: email,
          passwordHash,
        });
        // Throwing rolls the new user back: a taken email writes nothing.
        if (!inserted) throw conflict('An account with this email already exists');
        await this.accounts.emitSignUp(tx, user.id, 'email');
        return this.sessions.open(tx, user, input);
      });
    } catch (error) {
      // Counted like a failed sign-in, so probing which emails exist is throttled too.
      if (error instanceof AppError && error.code === 'CONFLICT') {
        await this.record('email_password', email, input.ip, null, false, 'email_taken');
      }
      throw error;
    }
    await this.record('email_password', email, input.ip, tokens.userId, true, null);
    return tokens;
  }

  async signInWithEmail(input: { email: string; password: string } & DeviceInfo): Promise<AuthTokens> {
    const email = parseOrThrow(emailSchema, input.email, 'email');
    if (typeof input.password !== 'string' || input.password.length === 0 || input.password.length > 200) {
      throw badInput('password is required', { field: 'password' });
    }
    await this.assertNotThrottled('email_password', email, input.ip);
    const credential = await this.repo.findCredential('email', email);
    let valid = false;
    if (credential?.passwordHash) valid = await verifyPassword(input.password, credential.passwordHash);
    else await burnPasswordCheck(input.password);
    const outcome =
      valid && credential
        ? await withTransaction(this.repo.db, async (tx) => {
            const user = await this.repo.findUser(credential.userId, tx);
            if (!user) return { ok: false, reason: 'no_account' } as const;
            return { ok: true, tokens: await this.sessions.open(tx, user, input) } as const;
          })
        : ({ ok: false, reason: credential ? 'wrong_password' : 'no_account' } as const);
    return this.finish('email_password', email, input.ip, outcome, 'Email or password is wrong');
  }

  private issuerOf(): string {
    return this.accounts.oloIssuerName;
  }

  private async finish(
    method: LoginMethod,
    identifier: string,
    ip: string | null,
    outcome: { ok: true; tokens: AuthTokens } | { ok: false; reason: string },
    failureMessage: string,
  ): Promise<AuthTokens> {
    if (!outcome.ok) {
      await this.record(method, identifier, ip, null, false, outcome.reason);
      throw new AppError('UNAUTHENTICATED', failureMessage, { reason: 'invalid_credentials' });
    }
    await this.record(method, identifier, ip, outcome.tokens.userId, true, null);
    return outcome.tokens;
  }

  private record(
    method: LoginMethod,
    identifier: string,
    ip: string | null,
    userId: string | null,
    success: boolean,
    reason: string | null,
  ) {
    return this.repo.recordLoginAttempt({
      method,
      identifier,
      ip,
      userId,
      success,
      reason,
      at: this.clock.now(),
    });
  }

  /** Refuses (and records) an attempt when the identifier or the IP has failed too often in the window. */
  private async assertNotThrottled(
    method: LoginMethod,
    identifier: string,
    ip: string | null,
  ): Promise<void> {
    const now = this.clock.now();
    const since = new Date(now.getTime() - this.throttle.windowSeconds * 1000);
    const checks: Array<{ by: { identifier: string } | { ip: string }; max: number }> = [
      { by: { identifier }, max: this.throttle.maxPerIdentifier },
    ];
    if (ip) checks.push({ by: { ip }, max: this.throttle.maxPerIp });
    for (const check of checks) {
      const failures = await this.repo.recentFailures(check.by, since, check.max);
      const oldestCounted = failures[check.max - 1];
      if (oldestCounted) {
        const retryAfterSeconds = Math.max(
          1,
          Math.ceil((oldestCounted.getTime() + this.throttle.windowSeconds * 1000 - now.getTime()) / 1000),
        );
        await this.record(method, identifier, ip, null, false, 'throttled');
        throw rateLimited('Too many failed attempts; try again later', retryAfterSeconds);
      }
    }
  }
}
