import sharp from 'sharp';
import { accounts } from '../domains/balance/balance.accounts.ts';
import type { Principal } from '../platform/auth/principal.ts';
import type { Services } from '../services.ts';

/** Coins every demo user starts with, as bonus coins (so the demo spends without buying first). */
export const DEMO_WELCOME_COINS = 1000n;

const DEMO_GIFTS = [
  { name: 'Rose', price: 10n, shareBps: 5000, sortOrder: 1, colour: '#e0245e' },
  { name: 'Heart', price: 50n, shareBps: 5000, sortOrder: 2, colour: '#ff6b81' },
  { name: 'Crown', price: 500n, shareBps: 6000, sortOrder: 3, colour: '#f5b700' },
];

/**
 * Welcome coins for the demo users (one ledger transaction each, keyed so a restart grants nothing
 * twice) and a small gift catalogue when there is none. The catalogue and its images (plain
 * coloured squares, uploaded and approved like any photo) are created as the demo admin, so they
 * show in the audit log like any other change.
 */
export async function seedDemoMoney(services: Services, admin: Principal, userIds: string[]): Promise<void> {
  for (const userId of userIds) {
    await services.ledger.execute({
      idempotencyKey: `demo:welcome:${userId}`,
      kind: 'bonus_grant',
      postings: [
        { account: accounts.promotions, amount: -DEMO_WELCOME_COINS },
        { account: accounts.walletBonus(userId), amount: DEMO_WELCOME_COINS },
      ],
      metadata: { reason: 'demo welcome coins' },
    });
  }
  if ((await services.gifts.catalogue()).length > 0) return;
  const actor = { principal: admin, requestId: 'demo-seed' };
  for (const { colour, ...gift } of DEMO_GIFTS) {
    const png = await sharp({ create: { width: 256, height: 256, channels: 3, background: colour } })
      .png()
      .toBuffer();
    const image = await services.media.upload(admin.userId, 'photo', png);
    await services.media.moderate(actor, [image.id], 'approve', null);
    await services.gifts.create(actor, {
      ...gift,
      imageMediaId: image.id,
      imageUrl: null,
      shareCoins: null,
      available: true,
    });
  }
}
