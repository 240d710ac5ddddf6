import { seedDemoProducts } from '../domains/payment/payment.demo.ts';
import { hashPassword } from '../platform/auth/passwords.ts';
import type { Role } from '../platform/auth/roles.ts';
import type { Services } from '../services.ts';
import { seedDemoCohorts } from './demo-cohorts.ts';
import { seedDemoMoney } from './demo-money.ts';
import { seedDemoPhoto } from './demo-photos.ts';

export const DEMO_PASSWORD = 'olo-demo-password';

/** Birth dates are fixed and far enough back that every demo account stays over 18. */
export type DemoProfile = { displayName: string; country: string; birthDate: string };

export type DemoAccount = {
  label: string;
  email: string;
  phone?: string;
  roles: Role[];
  profile: DemoProfile;
};

export const DEMO_ACCOUNTS: DemoAccount[] = [
  {
    label: 'admin',
    email: 'admin@olo.local',
    roles: ['user', 'moderator', 'admin'],
    profile: { displayName: 'Ada Admin', country: 'GB', birthDate: '1985-03-14' },
  },
  {
    label: 'moderator',
    email: 'moderator@olo.local',
    roles: ['user', 'moderator'],
    profile: { displayName: 'Max Moderator', country: 'DE', birthDate: '1990-07-02' },
  },
  {
    label: 'streamer',
    email: 'streamer1@olo.local',
    roles: ['user', 'streamer'],
    profile: { displayName: 'Sofia Stream', country: 'ES', birthDate: '1996-11-23' },
  },
  {
    label: 'streamer',
    email: 'streamer2@olo.local',
    roles: ['user', 'streamer'],
    profile: { displayName: 'Luca Live', country: 'IT', birthDate: '1994-05-09' },
  },
  {
    label: 'user',
    email: 'user1@olo.local',
    phone: '+15550100001',
    roles: ['user'],
    profile: { displayName: 'Uma User', country: 'US', birthDate: '1998-01-30' },
  },
  {
    label: 'user',
    email: 'user2@olo.local',
    phone: '+15550100002',
    roles: ['user'],
    profile: { displayName: 'Noah User', country: 'FR', birthDate: '2000-08-17' },
  },
];

/**
 * Creates the demo accounts that do not exist yet, and their profiles; safe to run on every start.
 * A profile is written only while it has no display name, so edits made in the demo are kept.
 */
export async function seedDemoData(services: Services): Promise<{ created: number }> {
  let created = 0;
  const repo = services.userRepo;
  const ids = new Map<DemoAccount, string>();
  for (const account of DEMO_ACCOUNTS) {
    const existing = await repo.findCredential('email', account.email);
    if (existing) {
      ids.set(account, existing.userId);
      await seedProfile(services, existing.userId, account.profile);
      continue;
    }
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
    ids.set(account, user.id);
    await seedProfile(services, user.id, account.profile);
    created++;
  }
  await seedDemoProducts(services.payments.products);
  const adminAccount = DEMO_ACCOUNTS.find((a) => a.roles.includes('admin'));
  const adminId = adminAccount && ids.get(adminAccount);
  if (adminId) {
    const admin = {
      userId: adminId,
      role: 'admin' as const,
      allowedRoles: adminAccount.roles,
      issuer: 'demo-seed',
      sessionId: undefined,
      tokenExpiresAt: new Date(0),
    };
    const users = DEMO_ACCOUNTS.filter((a) => a.label === 'user').map((a) => ids.get(a) as string);
    await seedDemoMoney(services, admin, users);
    await seedDemoCohorts(services, admin);
    // Streamers and users each appear in the other side's gallery feed.
    for (const [index, account] of DEMO_ACCOUNTS.entries()) {
      const id = ids.get(account);
      if (id && (account.label === 'streamer' || account.label === 'user'))
        await seedDemoPhoto(services, admin, id, index * 67);
    }
  }
  return { created };
}

async function seedProfile(services: Services, userId: string, profile: DemoProfile): Promise<void> {
  const current = await services.profiles.mine(userId);
  if (current.public.displayName !== null) return;
  // Through the service, so the demo data passes the same checks (age ≥ 18, ISO codes) as the app's.
  await services.profiles.update(userId, profile);
}
