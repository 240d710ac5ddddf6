import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { GoogleLoopback } from './google-play.loopback.ts';
import { createProduct, walletOf } from './payment.test-support.ts';

const VERIFY = `mutation($sku: String!, $token: String!) {
  verifyGooglePurchase(productId: $sku, purchaseToken: $token) { id state store storeTransactionId priceAmountMinor currency }
}`;
const AUDIENCE = 'https://olo.test/payments/google/rtdn';

type PurchaseView = { id: string; state: string; store: string; storeTransactionId: string };

describe('Google Play purchases', () => {
  const google = new GoogleLoopback();
  let app: TestApp;
  let admin: AuthTokens;
  const sku = `coins_${randomUUID().slice(0, 8)}`;

  const verify = (user: AuthTokens, token: string, productId = sku) =>
    gql<{ verifyGooglePurchase: PurchaseView }>(
      app.url,
      VERIFY,
      { sku: productId, token },
      { token: user.accessToken },
    );
  const push = async (body: unknown, authorization?: string) => {
    const response = await fetch(`${app.url}/payments/google/rtdn`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { outcome?: string } };
  };
  const signedPush = async (body: unknown) => push(body, `Bearer ${await google.pushToken(AUDIENCE)}`);
  const sell = (userId: string | undefined, options: { purchaseState?: 0 | 1 | 2 } = {}) => {
    const token = `tok.${randomUUID()}`;
    google.purchases.set(token, {
      productId: sku,
      orderId: `GPA.${randomUUID()}`,
      purchaseState: options.purchaseState ?? 0,
      consumptionState: 0,
      ...(userId ? { obfuscatedExternalAccountId: userId } : {}),
      regionCode: 'DE',
    });
    return token;
  };
  const consumed = (token: string) => google.consumeCalls.filter((t) => t === token).length;

  beforeAll(async () => {
    await google.start();
    app = await startTestApp({ env: google.env(AUDIENCE) });
    admin = await app.signIn(['user', 'admin']);
    await createProduct(app, admin.accessToken, {
      sku,
      coins: 100,
      bonusCoins: 10,
      prices: [
        { store: 'GOOGLE', country: '*', currency: 'USD', amountMinor: 199 },
        { store: 'GOOGLE', country: 'DE', currency: 'EUR', amountMinor: 189 },
      ],
    });
  });
  afterAll(async () => {
    await app?.close();
    await google.stop();
  });

  it('checks the token with the Play Developer API, credits once and consumes once, with one OAuth exchange', async () => {
    const user = await app.signIn(['user']);
    const token = sell(user.userId);
    const first = await verify(user, token);
    expect(first.data?.verifyGooglePurchase).toMatchObject({
      state: 'CREDITED',
      store: 'GOOGLE',
      priceAmountMinor: 189,
      currency: 'EUR',
    });
    const again = await Promise.all([verify(user, token), verify(user, token)]);
    expect(again.map((r) => r.data?.verifyGooglePurchase.id)).toEqual([
      first.data?.verifyGooglePurchase.id,
      first.data?.verifyGooglePurchase.id,
    ]);
    const rtdn = await signedPush(
      google.pushBody({
        oneTimeProductNotification: { version: '1.0', notificationType: 1, purchaseToken: token, sku },
      }),
    );
    expect(rtdn).toEqual({ status: 200, body: { outcome: 'already_recorded' } });
    expect(await walletOf(app, user.userId)).toMatchObject({ paid: 100n, bonus: 10n });
    expect(consumed(token)).toBe(1);
    // The access token is cached: one exchange for every call so far, with the Play scope.
    expect(google.tokenExchanges).toEqual([
      { scope: 'https://www.googleapis.com/auth/androidpublisher', issuer: google.clientEmail },
    ]);
  });

  it('credits from a notification first, then the app verify and replays change nothing', async () => {
    const user = await app.signIn(['user']);
    const token = sell(user.userId);
    const body = google.pushBody({
      oneTimeProductNotification: { version: '1.0', notificationType: 1, purchaseToken: token, sku },
    });
    expect((await signedPush(body)).body.outcome).toBe('credited');
    expect((await signedPush(body)).body.outcome).toBe('duplicate');
    expect((await verify(user, token)).data?.verifyGooglePurchase.state).toBe('CREDITED');
    expect(await walletOf(app, user.userId)).toMatchObject({ paid: 100n, bonus: 10n });
    expect(consumed(token)).toBe(1);
  });

  it('leaves a purchase without the account id to the app’s verify call', async () => {
    const user = await app.signIn(['user']);
    const token = sell(undefined);
    const body = google.pushBody({
      oneTimeProductNotification: { version: '1.0', notificationType: 1, purchaseToken: token, sku },
    });
    expect((await signedPush(body)).body.outcome).toBe('ignored:no_account_id');
    expect(consumed(token)).toBe(0);
    expect((await verify(user, token)).data?.verifyGooglePurchase.state).toBe('CREDITED');
    expect(consumed(token)).toBe(1);
    expect(await walletOf(app, user.userId)).toMatchObject({ paid: 100n, bonus: 10n });
  });

  it('refuses pushes without a valid Google OIDC token for our audience', async () => {
    const user = await app.signIn(['user']);
    const token = sell(user.userId);
    const body = google.pushBody({
      oneTimeProductNotification: { version: '1.0', notificationType: 1, purchaseToken: token, sku },
    });
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect((await push(body)).status).toBe(401);
    expect(
      (await push(body, `Bearer ${await google.pushToken(AUDIENCE, { key: stranger.privateKey })}`)).status,
    ).toBe(401);
    expect((await push(body, `Bearer ${await google.pushToken('https://elsewhere.example')}`)).status).toBe(
      401,
    );
    expect(
      (await push(body, `Bearer ${await google.pushToken(AUDIENCE, { email: 'someone@evil.example' })}`))
        .status,
    ).toBe(401);
    expect(await walletOf(app, user.userId)).toMatchObject({ paid: 0n, bonus: 0n });
    expect(await app.services.payments.service.list({ userId: user.userId }, 10, undefined)).toEqual([]);
  });

  it('consumes later when the consume call fails, still crediting once', async () => {
    const user = await app.signIn(['user']);
    const token = sell(user.userId);
    google.failConsumes = 1;
    expect((await verify(user, token)).data?.verifyGooglePurchase.state).toBe('CREDITED');
    expect(consumed(token)).toBe(0);
    expect((await verify(user, token)).data?.verifyGooglePurchase.state).toBe('CREDITED');
    expect(consumed(token)).toBe(1);
    await verify(user, token);
    expect(consumed(token)).toBe(1);
    expect(await walletOf(app, user.userId)).toMatchObject({ paid: 100n, bonus: 10n });
  });

  it('refuses unknown tokens and other accounts’ purchases', async () => {
    const user = await app.signIn(['user']);
    const other = await app.signIn(['user']);
    expect(errorCodes(await verify(user, 'tok.unknown'))).toEqual(['BAD_USER_INPUT']);
    const token = sell(other.userId);
    expect(errorCodes(await verify(user, token))).toEqual(['FORBIDDEN']);
    expect(consumed(token)).toBe(0);
  });

  it('records a pending purchase without coins and credits it once it is paid', async () => {
    const user = await app.signIn(['user']);
    const token = sell(user.userId, { purchaseState: 2 });
    expect((await verify(user, token)).data?.verifyGooglePurchase.state).toBe('PENDING');
    expect(await walletOf(app, user.userId)).toMatchObject({ paid: 0n });
    const purchase = google.purchases.get(token);
    if (purchase) purchase.purchaseState = 0;
    expect((await verify(user, token)).data?.verifyGooglePurchase.state).toBe('CREDITED');
    expect(await walletOf(app, user.userId)).toMatchObject({ paid: 100n });
    expect(consumed(token)).toBe(1);
  });

  it('takes coins back on a voided purchase, once; a void before the purchase credits nothing', async () => {
    const user = await app.signIn(['user']);
    const token = sell(user.userId);
    await verify(user, token);
    const orderId = google.purchases.get(token)?.orderId;
    const voided = google.pushBody({
      voidedPurchaseNotification: { purchaseToken: token, orderId, productType: 2, refundType: 1 },
    });
    expect((await signedPush(voided)).body.outcome).toBe('refunded');
    expect(
      (
        await signedPush(
          google.pushBody({ voidedPurchaseNotification: { purchaseToken: token, orderId, productType: 2 } }),
        )
      ).body.outcome,
    ).toBe('already_refunded');
    expect(await walletOf(app, user.userId)).toMatchObject({ paid: 0n, bonus: 0n });

    const early = sell(user.userId);
    const earlyVoid = google.pushBody({
      voidedPurchaseNotification: {
        purchaseToken: early,
        orderId: google.purchases.get(early)?.orderId,
        productType: 2,
      },
    });
    expect((await signedPush(earlyVoid)).body.outcome).toBe('recorded_early');
    expect((await verify(user, early)).data?.verifyGooglePurchase.state).toBe('REFUNDED');
    expect(await walletOf(app, user.userId)).toMatchObject({ paid: 0n, bonus: 0n });
    expect(consumed(early)).toBe(0);
  });
});
