import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import { adminActor } from '../mission_control/money-report.testing.ts';
import type { AuthTokens } from '../user/session.service.ts';

const PUSH_TOKEN = 'appsflyer-push-token-0123456789';
const PUSH_HEADER = 'X-Olo-Push-Token';
const APPHUD_TOKEN = 'apphud-webhook-token-0123456789';
const VIEW = `query($id: ID!) { adAttribution(userId: $id) {
  current { source mediaSource campaign adset ad clickTime installTime appsflyerId }
  history { source campaign adset ad clickTime raw }
  apphudEvents { apphudEventId name productId environment applied receivedAt }
} }`;

type View = {
  adAttribution: {
    current: Record<string, unknown> | null;
    history: Array<Record<string, unknown>>;
    apphudEvents: Array<Record<string, unknown>>;
  };
};

// AppsFlyer's Push API configured with its token in a custom X- header, and Apphud's webhook.
describe('ads: vendor pushes (AppsFlyer Push API, Apphud)', () => {
  let app: TestApp;
  let admin: AuthTokens;

  const push = (body: Record<string, unknown>, headers: Record<string, string>) =>
    fetch(`${app.url}/ads/appsflyer/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const apphud = (body: unknown, token?: string) =>
    fetch(`${app.url}/ads/apphud/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { 'x-apphud-token': token } : {}) },
      body: JSON.stringify(body),
    });
  const view = (userId: string, token = admin.accessToken) =>
    gql<View>(app.url, VIEW, { id: userId }, { token });
  const apphudEvent = (userId: string, name: string) => ({
    app: { uid: 'app-uid', bundle_id: 'com.olo.app' },
    event: {
      id: `evt-${randomUUID()}`,
      name,
      created_at: new Date().toISOString(),
      receipt: { product_id: 'vip_monthly', environment: 'sandbox' },
    },
    user: { user_id: userId, id: `apphud-${randomUUID()}` },
  });

  beforeAll(async () => {
    app = await startTestApp({
      env: {
        APPSFLYER_PUSH_TOKEN: PUSH_TOKEN,
        APPSFLYER_PUSH_TOKEN_HEADER: PUSH_HEADER,
        APPHUD_WEBHOOK_TOKEN: APPHUD_TOKEN,
      },
    });
    admin = await app.signIn(['user', 'admin']);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('takes the AppsFlyer push token only in the configured X- header', async () => {
    const { userId } = await app.signIn();
    const install = { event_name: 'install', customer_user_id: userId, media_source: 'tiktok_int' };
    expect((await push(install, { authorization: PUSH_TOKEN })).status).toBe(401);
    expect((await push(install, { [PUSH_HEADER]: 'not-the-push-token-at-all' })).status).toBe(401);
    expect(await app.services.ads.attribution.current(userId)).toBeUndefined();
    const genuine = await push(install, { [PUSH_HEADER.toLowerCase()]: PUSH_TOKEN });
    expect(genuine.status).toBe(200);
    expect(await genuine.json()).toEqual({ outcome: 'recorded' });
    expect((await app.services.ads.attribution.current(userId))?.mediaSource).toBe('tiktok_int');
  });

  it('keeps ad set, ad and click time a later report lacks; the history keeps every report as received', async () => {
    const { userId } = await app.signIn();
    const auth = { [PUSH_HEADER]: PUSH_TOKEN };
    const first = {
      event_name: 'install',
      customer_user_id: userId,
      appsflyer_id: '1700000000000-1111111',
      media_source: 'snapchat_int',
      campaign: 'summer',
      af_adset: 'adset-9',
      af_ad: 'ad-3',
      attributed_touch_time: '2026-04-01 08:00:00.000',
      install_time: '2026-04-01 08:05:00.000',
    };
    expect((await push(first, auth)).status).toBe(200);
    const later = {
      event_name: 're-engagement',
      customer_user_id: userId,
      media_source: 'snapchat_int',
      campaign: 'summer_retarget',
    };
    expect((await push(later, auth)).status).toBe(200);
    const result = await view(userId);
    expect(result.data?.adAttribution.current).toEqual({
      source: 'appsflyer_push',
      mediaSource: 'snapchat_int',
      campaign: 'summer_retarget',
      adset: 'adset-9',
      ad: 'ad-3',
      clickTime: '2026-04-01T08:00:00.000Z',
      installTime: '2026-04-01T08:05:00.000Z',
      appsflyerId: first.appsflyer_id,
    });
    expect(result.data?.adAttribution.history).toEqual([
      {
        source: 'appsflyer_push',
        campaign: 'summer_retarget',
        adset: null,
        ad: null,
        clickTime: null,
        raw: later,
      },
      {
        source: 'appsflyer_push',
        campaign: 'summer',
        adset: 'adset-9',
        ad: 'ad-3',
        clickTime: '2026-04-01T08:00:00.000Z',
        raw: first,
      },
    ]);
  });

  it('records Apphud webhooks verified by X-Apphud-Token, once per Apphud event, not applied while subscriptions are off', async () => {
    const { userId } = await app.signIn();
    const body = apphudEvent(userId, 'subscription_started');
    expect((await apphud(body)).status).toBe(401);
    expect((await apphud(body, 'apphud-webhook-token-wrong-value')).status).toBe(401);
    expect(await (await apphud(body, APPHUD_TOKEN)).json()).toEqual({ outcome: 'recorded' });
    expect(await (await apphud(body, APPHUD_TOKEN)).json()).toEqual({ outcome: 'duplicate' });
    const events = await app.services.ads.apphud.eventsOf(userId);
    expect(events.map((e) => [e.name, e.productId, e.applied])).toEqual([
      ['subscription_started', 'vip_monthly', false],
    ]);
  });

  it('marks Apphud events applied while feature.subscriptions_enabled is on; admins read them with adAttribution', async () => {
    const { userId, accessToken } = await app.signIn();
    const actor = adminActor(admin.userId);
    const off = apphudEvent(userId, 'subscription_started');
    const on = apphudEvent(userId, 'subscription_renewed');
    expect(await (await apphud(off, APPHUD_TOKEN)).json()).toEqual({ outcome: 'recorded' });
    await app.services.settings.set(actor, 'feature.subscriptions_enabled', true, 'test: subscriptions on');
    try {
      expect(await (await apphud(on, APPHUD_TOKEN)).json()).toEqual({ outcome: 'recorded' });
      // An event for someone who is not one of our users is recorded, never applied.
      const stranger = { ...apphudEvent(userId, 'trial_started'), user: { user_id: 'not-a-uuid', id: 'x' } };
      expect(await (await apphud(stranger, APPHUD_TOKEN)).json()).toEqual({ outcome: 'recorded' });
    } finally {
      await app.services.settings.set(
        actor,
        'feature.subscriptions_enabled',
        false,
        'test: subscriptions off',
      );
    }

    const result = await view(userId);
    expect(result.errors).toBeUndefined();
    expect(result.data?.adAttribution.apphudEvents).toEqual([
      {
        apphudEventId: on.event.id,
        name: 'subscription_renewed',
        productId: 'vip_monthly',
        environment: 'sandbox',
        applied: true,
        receivedAt: expect.any(String),
      },
      {
        apphudEventId: off.event.id,
        name: 'subscription_started',
        productId: 'vip_monthly',
        environment: 'sandbox',
        applied: false,
        receivedAt: expect.any(String),
      },
    ]);
    expect(errorCodes(await view(userId, accessToken))).toEqual(['FORBIDDEN']);
  });
});
