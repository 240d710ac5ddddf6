import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../test/app.ts';
import { DEMO_WELCOME_COINS } from './demo-money.ts';
import { DEMO_ACCOUNTS, seedDemoData } from './demo-seed.ts';

describe('demo seed', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('creates the accounts with adult profiles once, and keeps later edits', async () => {
    expect(await seedDemoData(app.services)).toEqual({ created: DEMO_ACCOUNTS.length });
    const [first] = DEMO_ACCOUNTS;
    const credential = await app.services.userRepo.findCredential('email', first?.email ?? '');
    const userId = credential?.userId ?? '';
    await app.services.profiles.update(userId, { displayName: 'Edited' });

    expect(await seedDemoData(app.services)).toEqual({ created: 0 });
    for (const account of DEMO_ACCOUNTS) {
      const found = await app.services.userRepo.findCredential('email', account.email);
      const profile = await app.services.profiles.mine(found?.userId ?? '');
      expect(profile.birthDate).toBe(account.profile.birthDate);
      expect(profile.public.country).toBe(account.profile.country);
      expect(profile.public.age).toBeGreaterThanOrEqual(18);
      expect(profile.public.displayName).toBe(account === first ? 'Edited' : account.profile.displayName);
    }
  });

  it('gives demo users welcome coins once and a gift catalogue', async () => {
    await seedDemoData(app.services);
    for (const account of DEMO_ACCOUNTS) {
      const found = await app.services.userRepo.findCredential('email', account.email);
      const wallet = await app.services.ledger.wallet(found?.userId ?? '');
      expect(wallet.bonus).toBe(account.label === 'user' ? DEMO_WELCOME_COINS : 0n);
    }
    expect((await app.services.gifts.catalogue()).map((g) => g.name)).toEqual(['Rose', 'Heart', 'Crown']);
  });
});
