import { z } from 'zod';
import { defineEvent } from '../event_log/event-catalogue.ts';
import { TRANSACTION_KINDS } from './balance.accounts.ts';

const coins = z.string().regex(/^-?\d+$/, 'an integer number of coins, as a string');

export const balanceChanged = defineEvent({
  type: 'balance_changed',
  version: 1,
  description:
    "A ledger transaction changed one or more of the account owner's balances (wallet: paid and bonus " +
    'coins; earnings: pending and available). Each account carries its new balance and version: a ' +
    'client that sees a version jump by more than one missed an event and reloads its balance.',
  payload: z.object({
    userId: z.uuid(),
    transactionId: z.uuid(),
    transactionKind: z.enum(TRANSACTION_KINDS),
    accounts: z.array(
      z.object({
        kind: z.enum(['wallet_paid', 'wallet_bonus', 'earnings_pending', 'earnings_available']),
        delta: coins,
        balance: coins,
        version: coins,
      }),
    ),
  }),
});

export const walletOverdrawn = defineEvent({
  type: 'wallet_overdrawn',
  version: 1,
  description:
    'A refund or revocation took back coins the user had already spent: the paid wallet is below ' +
    'zero and spending is blocked until it is positive again. Moderators may want to look.',
  payload: z.object({ userId: z.uuid(), transactionId: z.uuid(), paidBalance: coins }),
});

/** Every event the balance domain emits. */
export const balanceEvents = [balanceChanged, walletOverdrawn];

/** Events the account may see on its accountEvents subscription. */
export const balanceAccountVisibleEvents = [balanceChanged, walletOverdrawn];
