import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';

const SIGN_UP =
  'mutation($e: String!, $pw: String!) { signUpWithEmail(email: $e, password: $pw) { userId } }';
const REQUEST_CODE = 'mutation($p: String!) { requestPhoneCode(phone: $p) { expiresAt } }';
const PHONE_SIGN_IN =
  'mutation($p: String!, $c: String!) { signInWithPhone(phone: $p, code: $c) { userId } }';

describe('user_sign_up', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  const signUpEventsOf = async (userId: string) =>
    (await app.services.eventLog.listEvents({ type: 'user_sign_up', userId }, 10)).items.map(
      (e) => e.payload,
    );
  const allSignUps = async () =>
    (await app.services.eventLog.listEvents({ type: 'user_sign_up' }, 100)).items.length;

  it('is emitted once when an account signs up with email, and not when the email is taken', async () => {
    const signUp = await gql<{ signUpWithEmail: { userId: string } }>(app.url, SIGN_UP, {
      e: 'events@example.com',
      pw: 'long enough password',
    });
    const userId = signUp.data?.signUpWithEmail.userId ?? '';
    expect(await signUpEventsOf(userId)).toEqual([{ userId, method: 'email' }]);
    const before = await allSignUps();
    const taken = await gql(app.url, SIGN_UP, { e: 'events@example.com', pw: 'another long password' });
    expect(errorCodes(taken)).toEqual(['CONFLICT']);
    expect(await allSignUps()).toBe(before);
  });

  it('is emitted on the first phone sign-in only', async () => {
    const phone = '+4915199990000';
    const signIn = async () => {
      await gql(app.url, REQUEST_CODE, { p: phone });
      const sms = await app.services.userRepo.latestSms(phone);
      const code = /(\d{6})/.exec(sms?.body ?? '')?.[1];
      const response = await gql<{ signInWithPhone: { userId: string } }>(app.url, PHONE_SIGN_IN, {
        p: phone,
        c: code,
      });
      return response.data?.signInWithPhone.userId ?? '';
    };
    const userId = await signIn();
    expect(await signIn()).toBe(userId);
    expect(await signUpEventsOf(userId)).toEqual([{ userId, method: 'phone' }]);
  });

  it('is emitted once for an outside issuer’s subject, however many first requests race', async () => {
    const issuer = 'https://securetoken.google.com/events';
    const results = await Promise.all(
      Array.from({ length: 8 }, () => app.services.accounts.findOrCreateByIdentity(issuer, 'racer')),
    );
    const userId = results[0]?.userId ?? '';
    expect(await signUpEventsOf(userId)).toEqual([{ userId, method: 'external', issuer }]);
    await app.services.accounts.findOrCreateByIdentity(issuer, 'racer');
    expect(await signUpEventsOf(userId)).toHaveLength(1);
  });

  it('is emitted for accounts OLO creates directly', async () => {
    const user = await app.services.accounts.createOloAccount(['user', 'streamer']);
    expect(await signUpEventsOf(user.id)).toEqual([{ userId: user.id, method: 'email' }]);
    const byPhone = await app.services.accounts.createOloAccount(['user'], { method: 'phone' });
    expect(await signUpEventsOf(byPhone.id)).toEqual([{ userId: byPhone.id, method: 'phone' }]);
  });
});
