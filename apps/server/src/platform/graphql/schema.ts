import {
  type GraphQLField,
  type GraphQLSchema,
  isObjectType,
  lexicographicSortSchema,
  printSchema,
} from 'graphql';
import { builder } from './builder.ts';
import './system.graphql.ts';
import '../auth/auth.graphql.ts';
import '../../domains/user/user.graphql.ts';
import '../../domains/profile/profile.graphql.ts';
import '../../domains/settings/settings.graphql.ts';
import '../../domains/user/presence/presence.graphql.ts';
import '../../domains/timetable/timetable.graphql.ts';
import '../../domains/event_log/event-log.graphql.ts';
import '../realtime/realtime.graphql.ts';
import '../../domains/notification/announcement.graphql.ts';
import '../../domains/notification/notification.graphql.ts';
import '../../domains/mission_control/audit-log.graphql.ts';
import '../../domains/mission_control/user-admin.graphql.ts';
import '../../domains/media/media.graphql.ts';
import '../../domains/kyc/kyc.graphql.ts';
import '../../domains/ads/ads.graphql.ts';
import '../../domains/ads/ads-admin.graphql.ts';
import '../../domains/billing/billing.graphql.ts';
import '../../domains/mission_control/agency.graphql.ts';
import '../../domains/mission_control/payout.graphql.ts';
import '../../domains/mission_control/money-report.graphql.ts';
import '../../domains/favorites/favorites.graphql.ts';
import '../../domains/gift/gift.graphql.ts';
import '../../domains/chat/chat.graphql.ts';
import '../../domains/interaction/interaction.graphql.ts';
import '../../domains/payment/payment.graphql.ts';
import '../../domains/balance/balance.graphql.ts';
import '../../domains/video/call.graphql.ts';
import '../../domains/video/call-admin.graphql.ts';
import '../../domains/video/roulette.graphql.ts';
import '../../domains/video/prerecorded.graphql.ts';
import '../../domains/panel/panel.graphql.ts';
import '../../domains/gallery/gallery.graphql.ts';
import '../../domains/blocklist/blocklist.graphql.ts';

let schema: GraphQLSchema | undefined;

export type PermissionGap = { type: string; field: string };

function declaresScopes(field: GraphQLField<unknown, unknown>): boolean {
  const options = field.extensions?.pothosOptions as { authScopes?: unknown } | undefined;
  return options?.authScopes !== undefined;
}

function typeDeclaresScopes(type: { extensions?: Record<string, unknown> | null }): boolean {
  const options = type.extensions?.pothosOptions as { authScopes?: unknown } | undefined;
  return options?.authScopes !== undefined;
}

/**
 * Default deny: every root operation must declare its rule, and every object type must declare one
 * for itself or on each of its fields. Returns what lacks one.
 */
export function findPermissionGaps(target: GraphQLSchema): PermissionGap[] {
  const gaps: PermissionGap[] = [];
  const roots = new Set([target.getQueryType(), target.getMutationType(), target.getSubscriptionType()]);
  for (const type of Object.values(target.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const isRoot = roots.has(type);
    if (!isRoot && typeDeclaresScopes(type)) continue;
    for (const field of Object.values(type.getFields())) {
      if (!declaresScopes(field)) gaps.push({ type: type.name, field: field.name });
    }
  }
  return gaps;
}

/** The schema, built once from every module's `*.graphql.ts`. Refuses to build with an undeclared permission. */
export function buildSchema(): GraphQLSchema {
  if (schema) return schema;
  const built = builder.toSchema();
  const gaps = findPermissionGaps(built);
  if (gaps.length > 0) {
    const list = gaps.map((g) => `${g.type}.${g.field}`).join(', ');
    throw new Error(`GraphQL fields without a declared permission rule (authScopes): ${list}`);
  }
  schema = built;
  return schema;
}

export function printSdl(target: GraphQLSchema = buildSchema()): string {
  return `${printSchema(lexicographicSortSchema(target))}\n`;
}
