export type Role = 'user' | 'streamer' | 'moderator' | 'admin';

export const ROLES: readonly Role[] = ['user', 'streamer', 'moderator', 'admin'];

/** The role a request acts as when it names none: the most privileged one it holds. */
export function primaryRole(roles: readonly Role[]): Role {
  for (const role of ['admin', 'moderator', 'streamer', 'user'] as const)
    if (roles.includes(role)) return role;
  return 'user';
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
