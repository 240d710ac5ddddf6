import type { Principal } from '../platform/auth/principal.ts';
import type { Services } from '../services.ts';

/** The demo's one cohort: every account younger than a week (all demo accounts, on a fresh start). */
const NEW_USERS = {
  tag: 'new_users',
  name: 'New users',
  description: 'Signed up within the last 7 days (demo data)',
  kind: 'rule' as const,
  rule: { attribute: 'signed_up_at', op: 'within_days', days: 7 },
};

/**
 * Creates the "new users" cohort unless its tag exists, through the panel service as an admin, so it
 * is audited and its members are computed like any cohort's. An admin may edit or delete it; a
 * deleted one comes back at the next start, an edited one is kept.
 */
export async function seedDemoCohorts(services: Services, admin: Principal): Promise<void> {
  const existing = await services.cohorts.list();
  if (existing.some((c) => c.tag === NEW_USERS.tag)) return;
  await services.cohorts.create({ principal: admin, requestId: 'demo-seed' }, NEW_USERS);
}
