import sharp from 'sharp';
import type { Principal } from '../platform/auth/principal.ts';
import type { Services } from '../services.ts';

/**
 * A generated portrait-sized photo per demo account, approved by the demo admin: the gallery shows
 * only accounts with an approved photo, so without one the demo user's feed would be empty.
 * Skipped for an account that already has an approved photo (re-runs, or one uploaded in the demo).
 */
export async function seedDemoPhoto(
  services: Services,
  admin: Principal,
  userId: string,
  hue: number,
): Promise<boolean> {
  const mine = await services.media.listMine(userId, 50, undefined);
  if (mine.some((item) => item.kind === 'photo' && item.status === 'approved')) return false;
  const background = `hsl(${hue % 360}, 55%, 60%)`;
  const bytes = await sharp({ create: { width: 480, height: 640, channels: 3, background } })
    .jpeg()
    .toBuffer();
  const item = await services.media.upload(userId, 'photo', bytes);
  await services.media.moderate({ principal: admin, requestId: null }, [item.id], 'approve', null);
  // The gallery's consumers would pick it up within milliseconds; the demo is usable at once.
  await services.gallery.refreshCards([userId]);
  return true;
}
