import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';

const REQUEST_CODE = 'mutation($p: String!) { requestPhoneCode(phone: $p) { expiresAt } }';
const PHONE_SIGN_IN =
  'mutation($p: String!, $c: String!) { signInWithPhone(phone: $p, code: $c) { userId accessToken } }';
const SIGN_UP =
  'mutation($e: String!, $pw: String!) { signUpWithEmail(email: $e, password: $pw) { userId accessToken } }';
const SIGN_IN =
  'mutation($e: String!, $pw: String!) { signInWithEmail(email: $e, password: $pw) { userId accessToken } }';

describe('built-in sign-in', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({
      env: { LOGIN_THROTTLE_MAX_PER_IDENTIFIER: '3', LOGIN_THROTTLE_MAX_PER_IP: '1000' },
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  const sentCode = async (phone: string) => {
    const sms = await app.services.userRepo.latestSms(phone);
    const code = /(\d{6})/.exec(sms?.body ?? '')?.[1];
    if (!code) throw new Error(`no code was sent to ${phone}`);
    return code;
  };
  const wrongCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

  it('signs in by phone with the code sent by SMS, creating the account once', async () => {
    const phone = '+4915112345678';
    expect((await gql(app.url, REQUEST_CODE, { p: phone })).errors).toBeUndefined();
    const first = await gql<{ signInWithPhone: { userId: string } }>(app.url, PHONE_SIGN_IN, {
      p: phone,
      c: await sentCode(phone),
    });
    expect(first.errors).toBeUndefined();
    // A code works once.
    const reused = await gql(app.url, PHONE_SIGN_IN, { p: phone, c: await sentCode(phone) });
    expect(errorCodes(reused)).toEqual(['UNAUTHENTICATED']);
    await gql(app.url, REQUEST_CODE, { p: phone });
    const second = await gql<{ signInWithPhone: { userId: string } }>(app.url, PHONE_SIGN_IN, {
      p: phone,
      c: await sentCode(phone),
    });
    expect(second.data?.signInWithPhone.userId).toBe(first.data?.signInWithPhone.userId);
  });

  it('throttles an identifier after repeated wrong codes, even when the right code comes next', async () => {
    const phone = '+4915100000001';
    await gql(app.url, REQUEST_CODE, { p: phone });
    const code = await sentCode(phone);
    for (let i = 0; i < 3; i++) {
      expect(errorCodes(await gql(app.url, PHONE_SIGN_IN, { p: phone, c: wrongCode(code) }))).toEqual([
        'UNAUTHENTICATED',
      ]);
    }
    const throttled = await gql(app.url, PHONE_SIGN_IN, { p: phone, c: code });
    expect(throttled.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(throttled.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    const attempts = await app.database.handle.db
      .selectFrom('user.login_attempts')
      .select(['success', 'reason'])
      .where('identifier', '=', phone)
      .orderBy('id')
      .execute();
    expect(attempts.map((a) => a.reason)).toEqual(['wrong_code', 'wrong_code', 'wrong_code', 'throttled']);
  });

  it('throttles an identifier after repeated wrong passwords', async () => {
    const email = 'throttle@example.com';
    expect((await gql(app.url, SIGN_UP, { e: email, pw: 'correct horse battery' })).errors).toBeUndefined();
    for (let i = 0; i < 3; i++) {
      const wrong = await gql(app.url, SIGN_IN, { e: email, pw: `wrong password ${i}` });
      expect(errorCodes(wrong)).toEqual(['UNAUTHENTICATED']);
    }
    const throttled = await gql(app.url, SIGN_IN, { e: email, pw: 'correct horse battery' });
    expect(errorCodes(throttled)).toEqual(['RATE_LIMITED']);
    // Another account is not affected by this one's lock-out.
    await gql(app.url, SIGN_UP, { e: 'other@example.com', pw: 'correct horse battery' });
    expect(
      (await gql(app.url, SIGN_IN, { e: 'other@example.com', pw: 'correct horse battery' })).errors,
    ).toBeUndefined();
  });

  it('throttles an IP that fails across many identifiers', async () => {
    const strict = await startTestApp({
      env: { LOGIN_THROTTLE_MAX_PER_IP: '4', LOGIN_THROTTLE_MAX_PER_IDENTIFIER: '100' },
    });
    try {
      for (let i = 0; i < 4; i++) {
        const wrong = await gql(strict.url, SIGN_IN, {
          e: `nobody${i}@example.com`,
          pw: 'whatever-password',
        });
        expect(errorCodes(wrong)).toEqual(['UNAUTHENTICATED']);
      }
      const throttled = await gql(strict.url, SIGN_IN, { e: 'fresh@example.com', pw: 'whatever-password' });
      expect(errorCodes(throttled)).toEqual(['RATE_LIMITED']);
    } finally {
      await strict.close();
    }
  });

  it('caps how many codes one address can request across different phones', async () => {
    const strict = await startTestApp({ env: { LOGIN_THROTTLE_MAX_PER_IP: '3' } });
    try {
      for (let i = 0; i < 3; i++) {
        expect((await gql(strict.url, REQUEST_CODE, { p: `+4915100000${100 + i}` })).errors).toBeUndefined();
      }
      const capped = await gql(strict.url, REQUEST_CODE, { p: '+4915100000199' });
      expect(capped.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
      expect(await strict.services.userRepo.latestSms('+4915100000199')).toBeUndefined();
    } finally {
      await strict.close();
    }
  });

  it('refuses a second account for the same email and writes nothing', async () => {
    const email = 'twice@example.com';
    await gql(app.url, SIGN_UP, { e: email, pw: 'first password!' });
    const countUsers = async () =>
      Number(
        (
          await app.database.handle.db
            .selectFrom('user.users')
            .select((eb) => eb.fn.countAll<bigint>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = await countUsers();
    const again = await gql(app.url, SIGN_UP, { e: 'TWICE@example.com', pw: 'second password' });
    expect(errorCodes(again)).toEqual(['CONFLICT']);
    expect(await countUsers()).toBe(before);
    // Probing for taken emails counts as a failed attempt, so it is throttled like guessing passwords.
    const attempts = await app.database.handle.db
      .selectFrom('user.login_attempts')
      .select(['success', 'reason'])
      .where('identifier', '=', email)
      .execute();
    expect(attempts).toContainEqual({ success: false, reason: 'email_taken' });
  });

  it('rejects bad input with BAD_USER_INPUT and changes nothing', async () => {
    const before = await app.database.handle.db.selectFrom('user.otp_challenges').select('id').execute();
    const badPhone = await gql(app.url, REQUEST_CODE, { p: '12345' });
    expect(badPhone.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'phone' });
    const shortPassword = await gql(app.url, SIGN_UP, { e: 'short@example.com', pw: 'short' });
    expect(shortPassword.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'password',
    });
    const badEmail = await gql(app.url, SIGN_UP, { e: 'not-an-email', pw: 'long enough password' });
    expect(badEmail.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'email' });
    const after = await app.database.handle.db.selectFrom('user.otp_challenges').select('id').execute();
    expect(after).toHaveLength(before.length);
    expect(await app.services.userRepo.findCredential('email', 'short@example.com')).toBeUndefined();
  });

  it('records successful sign-ins', async () => {
    const email = 'recorded@example.com';
    const signedUp = await gql<{ signUpWithEmail: { userId: string } }>(app.url, SIGN_UP, {
      e: email,
      pw: 'a fine password',
    });
    await gql(app.url, SIGN_IN, { e: email, pw: 'a fine password' });
    const rows = await app.database.handle.db
      .selectFrom('user.login_attempts')
      .select(['success', 'user_id'])
      .where('identifier', '=', email)
      .execute();
    expect(rows).toEqual([
      { success: true, user_id: signedUp.data?.signUpWithEmail.userId },
      { success: true, user_id: signedUp.data?.signUpWithEmail.userId },
    ]);
  });
});
