import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { AuditLog } from '../mission_control/audit-log.ts';
import type { SettingKey, SettingValue } from '../settings/settings.definitions.ts';
import { registerBlocklistConsumers } from './blocklist.consumers.ts';
import { BlocklistRepository } from './blocklist.repository.ts';
import { BlocklistService, type BlockTargets } from './blocklist.service.ts';
import { BlocklistModerationService, type StaffBan } from './blocklist-moderation.service.ts';
import { BlocklistRulesRepository } from './blocklist-rules.repository.ts';
import { type AutoBan, BlocklistRules, type FineLedger } from './blocklist-rules.service.ts';

/** Builds the blocklist domain and registers its consumers (the rules, erasure). */
export function createBlocklist(deps: {
  db: Db;
  users: BlockTargets;
  settings: { get<K extends SettingKey>(key: K): Promise<SettingValue<K>> };
  ledger: FineLedger;
  autoBan: AutoBan;
  staffBan: StaffBan;
  audit: AuditLog;
  eventLog: EventLog;
  clock: Clock;
}) {
  const repo = new BlocklistRepository(deps.db);
  const rulesRepo = new BlocklistRulesRepository(deps.db);
  const blocklist = new BlocklistService({
    db: deps.db,
    repo,
    users: deps.users,
    eventLog: deps.eventLog,
    clock: deps.clock,
  });
  const rules = new BlocklistRules({
    repo: rulesRepo,
    users: deps.users,
    settings: deps.settings,
    ledger: deps.ledger,
    autoBan: deps.autoBan,
  });
  const moderation = new BlocklistModerationService({
    db: deps.db,
    repo,
    rules: rulesRepo,
    staffBan: deps.staffBan,
    audit: deps.audit,
    eventLog: deps.eventLog,
    clock: deps.clock,
  });
  registerBlocklistConsumers(deps.eventLog, blocklist, rules);
  return { blocklist, moderation, rules };
}
