import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accounts } from '../../src/domains/balance/balance.accounts.ts';
import type { AuthTokens } from '../../src/domains/user/session.service.ts';
import { VIDEO_TEST_ENV } from '../../src/domains/video/video.test-support.ts';
import { startTestApp, type TestApp } from '../app.ts';
import { gql } from '../graphql-client.ts';
import { BROWSER_CALL_PAGE } from './browser-call.page.ts';

/** Chromium from the system (Debian's `chromium` package, which .ci/run installs), or CHROMIUM_PATH. */
const chromium = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (candidate): candidate is string => Boolean(candidate && existsSync(candidate)),
);

type PageState = {
  subscribed: boolean;
  callState: string | null;
  pc: string;
  bytesReceived: number;
  confirmed: boolean;
  errors: string[];
};
type OloWindow = { olo: { state: PageState; start(callId: string, isCaller: boolean): Promise<void> } };

const PAGE_PATH = '/browser-call-test';

if (!chromium && process.env.REQUIRE_BROWSER_TESTS === '1') {
  throw new Error(
    'REQUIRE_BROWSER_TESTS=1 but no Chromium found (apt-get install chromium, or set CHROMIUM_PATH)',
  );
}

// Skipped only where no Chromium is installed (a developer machine without it); CI installs it and
// sets REQUIRE_BROWSER_TESTS=1, so there a missing browser fails instead of skipping.
describe.skipIf(!chromium)('a call between two real browsers over the local WebRTC provider', () => {
  let app: TestApp;
  const browsers: Browser[] = [];

  /** A separate Chromium (its own profile and process) on the test page, signed in as `tokens`. */
  const openBrowser = async (tokens: AuthTokens): Promise<Page> => {
    const browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      args: [
        '--no-sandbox',
        // A camera and microphone that play a test pattern and tone, granted without a prompt.
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
        // Both browsers are on this machine; without it Chromium drops loopback candidates.
        '--allow-loopback-in-peer-connection',
        // The page is answered by the test (no network address), which Chromium then treats as a
        // public origin and refuses its WebSocket to 127.0.0.1; a real client is served by a host.
        '--disable-features=LocalNetworkAccessChecks',
      ],
    });
    browsers.push(browser);
    const page = await browser.newPage();
    // The page is served as if by the app's own origin, so its fetch and WebSocket are same-origin.
    await page.setRequestInterception(true);
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === PAGE_PATH) {
        void request.respond({ status: 200, contentType: 'text/html', body: BROWSER_CALL_PAGE });
      } else {
        void request.continue();
      }
    });
    await page.goto(`${app.url}${PAGE_PATH}#token=${encodeURIComponent(tokens.accessToken)}`);
    await page.waitForFunction(() => (globalThis as unknown as OloWindow).olo.state.subscribed);
    return page;
  };
  const stateOf = (page: Page) => page.evaluate(() => (globalThis as unknown as OloWindow).olo.state);
  const callState = async (page: Page) => (await stateOf(page)).callState;
  const start = (page: Page, callId: string, isCaller: boolean) =>
    page.evaluate(
      (id, caller) => (globalThis as unknown as OloWindow).olo.start(id, caller),
      callId,
      isCaller,
    );
  const mutate = async <T>(query: string, variables: Record<string, unknown>, tokens: AuthTokens) => {
    const response = await gql<T>(app.url, query, variables, { token: tokens.accessToken });
    if (!response.data) throw new Error(JSON.stringify(response.errors));
    return response.data;
  };

  beforeAll(async () => {
    app = await startTestApp({ env: VIDEO_TEST_ENV });
    await app.services.jobs.start();
  });
  afterAll(async () => {
    for (const browser of browsers) await browser.close();
    await app?.close();
  });

  it('connects the two browsers peer to peer, media flows both ways, the call connects and hangs up', async () => {
    const userTokens = await app.signIn(['user']);
    const streamerTokens = await app.signIn(['streamer']);
    await app.services.ledger.execute({
      idempotencyKey: `browser:fund:${userTokens.userId}`,
      kind: 'purchase',
      postings: [
        { account: accounts.storeClearing, amount: -1000n },
        { account: accounts.walletPaid(userTokens.userId), amount: 1000n },
      ],
    });
    const userPage = await openBrowser(userTokens);
    const streamerPage = await openBrowser(streamerTokens);
    // The streamer's browser socket is what makes them online.
    await expect
      .poll(() => app.services.presence.isOnline(streamerTokens.userId), { timeout: 10_000 })
      .toBe(true);
    await app.services.presence.setAvailability(streamerTokens.userId, 'available');

    const { requestCall } = await mutate<{ requestCall: { id: string } }>(
      'mutation($id: ID!) { requestCall(calleeId: $id) { id } }',
      { id: streamerTokens.userId },
      userTokens,
    );
    const callId = requestCall.id;
    // Each browser heard of the call on its own subscription, so both are listening for signals.
    await expect.poll(() => callState(streamerPage), { timeout: 10_000 }).toBe('REQUESTED');
    await mutate(
      'mutation($id: ID!) { markCallRinging(callId: $id) { id } }',
      { id: callId },
      streamerTokens,
    );
    await mutate('mutation($id: ID!) { acceptCall(callId: $id) { id } }', { id: callId }, streamerTokens);
    await expect.poll(() => callState(userPage), { timeout: 10_000 }).toBe('CONNECTING');

    await start(streamerPage, callId, false);
    await start(userPage, callId, true);

    for (const page of [userPage, streamerPage]) {
      await expect.poll(async () => (await stateOf(page)).confirmed, { timeout: 20_000 }).toBe(true);
      const state = await stateOf(page);
      expect(state.errors).toEqual([]);
      expect(state.pc).toBe('connected');
      expect(state.bytesReceived).toBeGreaterThan(0);
    }
    const connected = await app.services.calls.find(callId);
    expect(connected).toMatchObject({ state: 'connected', provider: 'local' });
    await expect.poll(() => callState(userPage), { timeout: 10_000 }).toBe('CONNECTED');

    await mutate('mutation($id: ID!) { hangUpCall(callId: $id) { id } }', { id: callId }, userTokens);
    for (const page of [userPage, streamerPage]) {
      await expect.poll(() => callState(page), { timeout: 10_000 }).toBe('ENDED');
      await expect.poll(async () => (await stateOf(page)).pc, { timeout: 10_000 }).toBe('closed');
    }
    const ended = await app.services.calls.find(callId);
    expect(ended).toMatchObject({ state: 'ended', endReason: 'hangup', endedBy: 'caller' });
    expect(ended?.connectedAt).toBeInstanceOf(Date);
  }, 60_000);
});
