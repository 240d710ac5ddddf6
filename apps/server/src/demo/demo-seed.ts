import { hashPassword } from '../platform/auth/passwords.ts';
import type { Role } from '../platform/auth/roles.ts';
import type { Services } from '../services.ts';

export const DEMO_PASSWORD = 'olo-demo-password';

export type DemoAccount = { label: string; email: string; phone?: string; roles: Role[] };

export const DEMO_ACCOUNTS: DemoAccount[] = [
  { label: 'admin', email: 'admin@olo.local', roles: ['user', 'moderator', 'admin'] },
  { label: 'moderator', email: 'moderator@olo.local', roles: ['user', 'moderator'] },
  { label: 'streamer', email: 'streamer1@olo.local', roles: ['user', 'streamer'] },
  { label: 'streamer', email: 'streamer2@olo.local', roles: ['user', 'streamer'] },
  { label: 'user', email: 'user1@olo.local', phone: '+15550100001', roles: ['user'] },
  { label: 'user', email: 'user2@olo.local', phone: '+15550100002', roles: ['user'] },
];

/** Creates the demo accounts that do not exist yet; safe to run on every start. */
export async function seedDemoData(services: Services): Promise<{ created: number }> {
  let created = 0;
  const repo = services.userRepo;
  for (const account of DEMO_ACCOUNTS) {
    if (await repo.findCredential('email', account.email)) continue;
    const user = await services.accounts.createOloAccount(account.roles);
    const passwordHash = await hashPassword(DEMO_PASSWORD);
    await repo.insertCredential(repo.db, {
      userId: user.id,
      kind: 'email',
      identifier: account.email,
      passwordHash,
    });
    if (account.phone) {
      await repo.insertCredential(repo.db, { userId: user.id, kind: 'phone', identifier: account.phone });
    }
    created++;
  }
  return { created };
}
