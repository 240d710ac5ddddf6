import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { type FeedPage, feedPage, GalleryFixture } from './gallery.test-support.ts';

const STREAMERS = 9;

/**
 * The pagination invariant, for any page sizes and any presence changes between pages: a scroll
 * shows every account that was in the feed when it started exactly once. (Its own database: the
 * feed then holds exactly these streamers.)
 */
describe('gallery pagination (property)', () => {
  let app: TestApp;
  let fx: GalleryFixture;
  let viewer: AuthTokens;
  const streamers: AuthTokens[] = [];

  beforeAll(async () => {
    app = await startTestApp();
    fx = new GalleryFixture(app);
    viewer = await fx.account(['user']);
    for (let i = 0; i < STREAMERS; i++) streamers.push(await fx.account(['user', 'streamer']));
  });
  afterAll(async () => {
    await app?.close();
  });

  it('never repeats and never skips anyone present at the start, whatever comes online or goes offline', async () => {
    const everyone = new Set(streamers.map((s) => s.userId));
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            first: fc.integer({ min: 1, max: 4 }),
            flips: fc.subarray([...Array(STREAMERS).keys()], { maxLength: 4 }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        async (steps) => {
          const seen: string[] = [];
          let after: string | null = null;
          for (let i = 0; ; i++) {
            const step = steps[i % steps.length];
            if (!step) throw new Error('no step');
            const page: FeedPage = await feedPage(app, viewer.accessToken, step.first, after);
            expect(page.cards.length).toBeLessThanOrEqual(step.first);
            seen.push(...page.cards.map((c) => c.userId));
            after = page.nextCursor;
            if (!after) break;
            for (const index of step.flips) {
              const id = streamers[index]?.userId;
              if (!id) continue;
              if (await app.services.presence.isOnline(id)) await fx.offline(id);
              else await fx.online(id);
            }
          }
          expect(seen.length).toBe(new Set(seen).size);
          expect(new Set(seen)).toEqual(everyone);
        },
      ),
      { numRuns: 15 },
    );
  });
});
