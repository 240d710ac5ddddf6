import { z } from 'zod';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import { requirePrincipal } from '../../platform/graphql/context.ts';
import { channels } from '../../platform/realtime/pubsub.ts';
import type { AccountEventMessage } from '../../platform/realtime/realtime.graphql.ts';
import { sessionStillActive, streamChannel } from '../../platform/realtime/stream.ts';
import {
  type AccountKind,
  type LedgerReceipt,
  PLATFORM_KINDS,
  TRANSACTION_KINDS,
} from './balance.accounts.ts';
import { balanceChanged } from './balance.events.ts';
import type { HistoryEntry } from './ledger.repository.ts';
import type { Wallet } from './ledger.service.ts';

const STAFF = { role: ['moderator' as const, 'admin' as const] };
const USER_ACCOUNT_KINDS = ['wallet_paid', 'wallet_bonus', 'earnings_pending', 'earnings_available'] as const;

const cursorSchema = z.string().regex(/^\d{1,19}$/, 'after must be a cursor returned by a previous page');
const firstSchema = z.number().int().min(1).max(100);
const uuid = z.uuid('must be an id');

const LedgerAccountKindEnum = builder.enumType('LedgerAccountKind', {
  values: Object.fromEntries(
    [...USER_ACCOUNT_KINDS, ...PLATFORM_KINDS].map((kind) => [kind.toUpperCase(), { value: kind }]),
  ) as Record<Uppercase<AccountKind>, { value: AccountKind }>,
});

const UserAccountKindEnum = builder.enumType('UserAccountKind', {
  values: {
    WALLET_PAID: { value: 'wallet_paid', description: 'Coins bought' },
    WALLET_BONUS: { value: 'wallet_bonus', description: 'Coins granted' },
    EARNINGS_PENDING: { value: 'earnings_pending', description: 'Earned, still held' },
    EARNINGS_AVAILABLE: { value: 'earnings_available', description: 'Earned, can be paid out' },
  } as const,
});

const LedgerTransactionKindEnum = builder.enumType('LedgerTransactionKind', {
  values: Object.fromEntries(
    TRANSACTION_KINDS.map((kind) => [kind.toUpperCase(), { value: kind }]),
  ) as Record<Uppercase<(typeof TRANSACTION_KINDS)[number]>, { value: (typeof TRANSACTION_KINDS)[number] }>,
});

const OwnerKindEnum = builder.enumType('LedgerOwnerKind', {
  values: { USER: { value: 'user' }, AGENCY: { value: 'agency' }, PLATFORM: { value: 'platform' } } as const,
});

const WalletRef = builder.objectRef<Wallet>('Wallet').implement({
  description: 'Coins a user can spend: paid (bought) and bonus (granted). Versions grow by one per change.',
  authScopes: { signedIn: true },
  fields: (t) => ({
    paid: t.field({ type: 'Coins', resolve: (w) => w.paid }),
    bonus: t.field({ type: 'Coins', resolve: (w) => w.bonus }),
    total: t.field({ type: 'Coins', resolve: (w) => w.total }),
    inDebt: t.boolean({
      description: 'A refund took back coins already spent: spending is blocked until the wallet is positive',
      resolve: (w) => w.inDebt,
    }),
    paidVersion: t.field({ type: 'Coins', resolve: (w) => w.paidVersion }),
    bonusVersion: t.field({ type: 'Coins', resolve: (w) => w.bonusVersion }),
  }),
});

const LedgerEntryRef = builder.objectRef<HistoryEntry>('LedgerEntry').implement({
  description: 'One posting: coins into (positive) or out of (negative) one account',
  authScopes: { signedIn: true },
  fields: (t) => ({
    id: t.id({ resolve: (e) => e.id.toString() }),
    transactionId: t.exposeID('transactionId'),
    transactionKind: t.field({ type: LedgerTransactionKindEnum, resolve: (e) => e.transactionKind }),
    account: t.field({ type: LedgerAccountKindEnum, resolve: (e) => e.accountKind }),
    amount: t.field({ type: 'Coins', resolve: (e) => e.amount }),
    balanceAfter: t.field({
      type: 'Coins',
      nullable: true,
      description: 'Null for platform accounts (kept in shards; read the total with ledgerAccountBalance)',
      resolve: (e) => (e.ownerKind === 'platform' ? null : e.balanceAfter),
    }),
    version: t.field({
      type: 'Coins',
      nullable: true,
      resolve: (e) => (e.ownerKind === 'platform' ? null : e.version),
    }),
    metadata: t.field({ type: 'JSON', resolve: (e) => e.metadata }),
    createdAt: t.field({ type: 'DateTime', resolve: (e) => e.createdAt }),
  }),
});

const LedgerPage = builder
  .objectRef<{ items: HistoryEntry[]; nextCursor: string | null }>('LedgerPage')
  .implement({
    description: 'Postings, newest first. Pass nextCursor as `after`; null at the end.',
    authScopes: { signedIn: true },
    fields: (t) => ({
      items: t.field({ type: [LedgerEntryRef], resolve: (p) => p.items }),
      nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
    }),
  });

const ReceiptRef = builder.objectRef<LedgerReceipt>('LedgerReceipt').implement({
  description: 'The result of a ledger operation; `replayed` when the idempotency key had been used already',
  authScopes: STAFF,
  fields: (t) => ({
    transactionId: t.exposeID('transactionId'),
    replayed: t.exposeBoolean('replayed'),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
  }),
});

type BalanceEventMessage = {
  transactionId: string;
  transactionKind: (typeof TRANSACTION_KINDS)[number];
  occurredAt: string;
  accounts: Array<{
    kind: (typeof USER_ACCOUNT_KINDS)[number];
    delta: string;
    balance: string;
    version: string;
  }>;
};

const BalanceChangeRef = builder
  .objectRef<BalanceEventMessage['accounts'][number]>('BalanceChange')
  .implement({
    authScopes: { signedIn: true },
    fields: (t) => ({
      account: t.field({ type: UserAccountKindEnum, resolve: (c) => c.kind }),
      delta: t.field({ type: 'Coins', resolve: (c) => BigInt(c.delta) }),
      balance: t.field({ type: 'Coins', resolve: (c) => BigInt(c.balance) }),
      version: t.field({
        type: 'Coins',
        description:
          "The account's version after the change: a jump of more than one means events were missed",
        resolve: (c) => BigInt(c.version),
      }),
    }),
  });

const BalanceEventRef = builder.objectRef<BalanceEventMessage>('BalanceEvent').implement({
  description: "A committed change of the caller's balances",
  authScopes: { signedIn: true },
  fields: (t) => ({
    transactionId: t.exposeID('transactionId'),
    transactionKind: t.field({ type: LedgerTransactionKindEnum, resolve: (e) => e.transactionKind }),
    occurredAt: t.field({ type: 'DateTime', resolve: (e) => e.occurredAt }),
    changes: t.field({ type: [BalanceChangeRef], resolve: (e) => e.accounts }),
  }),
});

const page = (items: HistoryEntry[], first: number) => {
  const shown = items.slice(0, first);
  return { items: shown, nextCursor: items.length > first ? (shown.at(-1)?.id.toString() ?? null) : null };
};

async function* balanceEventsOf(source: AsyncGenerator<unknown>): AsyncGenerator<BalanceEventMessage> {
  for await (const message of source) {
    const event = message as AccountEventMessage;
    if (event.type !== balanceChanged.type) continue;
    const payload = balanceChanged.payload.parse(event.payload);
    yield {
      transactionId: payload.transactionId,
      transactionKind: payload.transactionKind,
      occurredAt: event.occurredAt,
      accounts: payload.accounts,
    };
  }
}

builder.queryFields((t) => ({
  myWallet: t.field({
    type: WalletRef,
    description: "The caller's coins",
    authScopes: { signedIn: true },
    resolve: (_root, _args, ctx) => ctx.services.ledger.wallet(requirePrincipal(ctx).userId),
  }),
  myBalanceHistory: t.field({
    type: LedgerPage,
    description: "Postings on the caller's wallet and earnings, newest first",
    authScopes: { signedIn: true },
    args: {
      first: t.arg.int({ required: false, defaultValue: 50 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const first = parseOrThrow(firstSchema, args.first ?? 50, 'first');
      const after = args.after ? BigInt(parseOrThrow(cursorSchema, args.after, 'after')) : undefined;
      const items = await ctx.services.ledger.history(
        { ownerKind: 'user', ownerId: requirePrincipal(ctx).userId },
        first + 1,
        after,
      );
      return page(items, first);
    },
  }),
  adminWallet: t.field({
    type: WalletRef,
    description: "A user's coins (staff)",
    authScopes: STAFF,
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.ledger.wallet(parseOrThrow(uuid, String(args.userId), 'userId')),
  }),
  adminLedgerPostings: t.field({
    type: LedgerPage,
    description: "Postings of any account: a user's or an agency's (ownerId), or a platform account",
    authScopes: STAFF,
    args: {
      ownerKind: t.arg({ type: OwnerKindEnum, required: true }),
      ownerId: t.arg.id({ required: false }),
      account: t.arg({ type: LedgerAccountKindEnum, required: false }),
      first: t.arg.int({ required: false, defaultValue: 50 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const first = parseOrThrow(firstSchema, args.first ?? 50, 'first');
      const after = args.after ? BigInt(parseOrThrow(cursorSchema, args.after, 'after')) : undefined;
      const ownerId =
        args.ownerKind === 'platform' ? null : parseOrThrow(uuid, String(args.ownerId ?? ''), 'ownerId');
      const items = await ctx.services.ledger.history(
        { ownerKind: args.ownerKind, ownerId, ...(args.account ? { kinds: [args.account] } : {}) },
        first + 1,
        after,
      );
      return page(items, first);
    },
  }),
  ledgerAccountBalance: t.field({
    type: 'Coins',
    description: 'The balance of a platform account (the sum of its shards)',
    authScopes: { role: ['admin'] },
    args: { account: t.arg({ type: LedgerAccountKindEnum, required: true }) },
    resolve: (_root, args, ctx) => {
      const kind = parseOrThrow(z.enum(PLATFORM_KINDS), args.account, 'account');
      return ctx.services.ledger.balanceOf({ owner: { kind: 'platform' }, kind });
    },
  }),
}));

builder.mutationFields((t) => ({
  adjustBalance: t.field({
    type: ReceiptRef,
    description:
      "Corrects one of a user's accounts by a signed amount, with a reason. Audited. Never takes an " +
      'account below zero (INSUFFICIENT_FUNDS). Send the same idempotencyKey to retry safely.',
    authScopes: STAFF,
    args: {
      userId: t.arg.id({ required: true }),
      account: t.arg({ type: UserAccountKindEnum, required: true }),
      amount: t.arg({ type: 'Coins', required: true }),
      reason: t.arg.string({ required: true }),
      idempotencyKey: t.arg.string({ required: true }),
    },
    resolve: (_root, args, ctx) => {
      const userId = parseOrThrow(uuid, String(args.userId), 'userId');
      const reason = parseOrThrow(z.string().trim().min(3).max(1000), args.reason, 'reason');
      const idempotencyKey = parseOrThrow(
        z.string().regex(/^[\w.:-]{8,100}$/, 'use 8 to 100 letters, digits or . _ : -'),
        args.idempotencyKey,
        'idempotencyKey',
      );
      return ctx.services.balanceAdmin.adjust(
        { principal: requirePrincipal(ctx), requestId: ctx.requestId },
        { userId, account: args.account, amount: args.amount, reason, idempotencyKey },
      );
    },
  }),
}));

builder.subscriptionField('balanceEvents', (t) =>
  t.field({
    type: BalanceEventRef,
    description:
      "Every committed change of the caller's balances, with new balances and versions. On a version " +
      'gap (or after reconnecting) reload with myWallet.',
    authScopes: { signedIn: true },
    subscribe: (_root, _args, ctx) => {
      const principal = requirePrincipal(ctx);
      return balanceEventsOf(
        streamChannel(ctx.services.pubsub, channels.user(principal.userId), sessionStillActive(ctx)),
      );
    },
    resolve: (message) => message as BalanceEventMessage,
  }),
);
