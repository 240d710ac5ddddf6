import type { Services } from '../../services.ts';
import type { Principal } from '../auth/principal.ts';
import type { Logger } from '../observability/logger.ts';

/** What every resolver receives: who is calling and the services it may use. */
export type GraphQLContext = {
  principal: Principal | null;
  requestId: string;
  ip: string | null;
  userAgent: string | null;
  services: Services;
  log: Logger;
};

export function requirePrincipal(ctx: GraphQLContext): Principal {
  // The scope check already ran; this only narrows the type.
  if (!ctx.principal) throw new Error('resolver reached without a principal despite its auth scope');
  return ctx.principal;
}
