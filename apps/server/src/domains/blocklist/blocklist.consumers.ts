import type { EventLog } from '../event_log/event-log.service.ts';
import { userDeleted } from '../user/user.events.ts';
import { userBlocked } from './blocklist.events.ts';
import type { BlocklistService } from './blocklist.service.ts';
import type { BlocklistRules } from './blocklist-rules.service.ts';

export const BLOCKLIST_RULES_CONSUMER = 'blocklist_rules';
export const BLOCKLIST_ERASURE_CONSUMER = 'blocklist_erase_deleted_accounts';

export function registerBlocklistConsumers(
  eventLog: EventLog,
  blocklist: Pick<BlocklistService, 'eraseAccount'>,
  rules: Pick<BlocklistRules, 'apply'>,
): void {
  // `user_blocked` → the rules (harassment threshold, nudity penalty). One event at a time, in commit
  // order; what a rule writes (flag, penalty, ledger posting, follow-up events) commits with the
  // cursor, so a retry starts clean. Fines and bans must not be lost: after its retries the consumer
  // stops and shows in the admin API rather than skipping a block.
  eventLog.registerConsumer({
    name: BLOCKLIST_RULES_CONSUMER,
    types: [userBlocked.type],
    startFrom: 'beginning',
    onExhausted: 'stop',
    batchSize: 20,
    handler: async (event, { tx, emit }) => {
      if (!userBlocked.matches(event)) return;
      const { blockId, blockerId, blockedId, reason } = event.payload;
      await rules.apply(tx, { blockId, blockerId, blockedId, reason, at: event.occurredAt }, emit);
    },
  });

  // `user_deleted` → the account's blocks are erased or anonymised (see `eraseAccount`). Erasure must
  // not be skipped either.
  eventLog.registerConsumer({
    name: BLOCKLIST_ERASURE_CONSUMER,
    types: [userDeleted.type],
    startFrom: 'beginning',
    onExhausted: 'stop',
    handler: async (event, { tx }) => {
      if (!userDeleted.matches(event)) return;
      await blocklist.eraseAccount(tx, event.payload.userId, event.occurredAt);
    },
  });
}
