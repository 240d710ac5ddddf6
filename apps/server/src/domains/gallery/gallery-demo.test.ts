import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { DEMO_ACCOUNTS, seedDemoData } from '../../demo/demo-seed.ts';
import { scroll } from './gallery.test-support.ts';

describe('gallery with the demo data', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  const tokenOf = async (email: string) => {
    const credential = await app.services.userRepo.findCredential('email', email);
    const user = credential && (await app.services.userRepo.findUser(credential.userId));
    if (!user) throw new Error(`no demo account ${email}`);
    const tokens = await app.database.handle.db
      .transaction()
      .execute((tx) =>
        app.services.sessions.open(tx, user, { deviceName: 'test', userAgent: 'vitest', ip: null }),
      );
    return { userId: user.id, token: tokens.accessToken };
  };

  it("shows the demo streamers in a demo user's feed and the demo users in a demo streamer's", async () => {
    await seedDemoData(app.services);
    // A second run adds no second photo.
    await seedDemoData(app.services);
    const idsOf = async (label: string) =>
      Promise.all(
        DEMO_ACCOUNTS.filter((a) => a.label === label).map(async (a) => (await tokenOf(a.email)).userId),
      );
    const streamers = await idsOf('streamer');
    const users = await idsOf('user');

    const user = await tokenOf('user1@olo.local');
    expect(new Set(await scroll(app, user.token, 30))).toEqual(new Set(streamers));
    const streamer = await tokenOf('streamer1@olo.local');
    expect(new Set(await scroll(app, streamer.token, 30))).toEqual(new Set(users));
    const photos = await app.services.media.listMine(streamers[0] ?? '', 10, undefined);
    expect(photos.filter((p) => p.kind === 'photo')).toHaveLength(1);
  });
});
