import { z } from 'zod';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import { requirePrincipal } from '../../platform/graphql/context.ts';
import type { BillingCharge, TariffVersion } from './billing.repository.ts';
import type { SessionView } from './billing.service.ts';
import type { Checkpoint, Schedule, TariffCheckpoint, TariffPreview } from './tariff.ts';

const ADMIN = { role: ['admin' as const] };

const CallKindEnum = builder.enumType('CallKind', {
  values: {
    DIRECT: { value: 'direct', description: 'A user calls a chosen streamer' },
    ROULETTE: { value: 'roulette', description: 'A random match' },
    PRERECORDED: { value: 'prerecorded', description: 'A prerecorded video call' },
  } as const,
});

const BillingStatusEnum = builder.enumType('CallBillingStatus', {
  values: {
    LIVE: { value: 'live', description: 'Being billed' },
    ENDING: {
      value: 'ending',
      description: 'The call stopped while billing was behind; the checkpoints it reached are being charged',
    },
    ENDED: { value: 'ended', description: 'The call stopped' },
    CUT_OFF: { value: 'cut_off', description: 'The payer could not pay a checkpoint; billing ended there' },
  } as const,
});

const CheckpointRef = builder.objectRef<Checkpoint>('TariffCheckpoint').implement({
  description: 'At `second` of connected time, `coins` change hands',
  authScopes: { signedIn: true },
  fields: (t) => ({
    second: t.exposeInt('second'),
    coins: t.field({ type: 'Coins', resolve: (c) => c.coins }),
  }),
});

const RepeatRef = builder.objectRef<{ everySeconds: number; coins: bigint }>('TariffRepeat').implement({
  description: '`coins` every `everySeconds` after the last checkpoint, for as long as the call lasts',
  authScopes: { signedIn: true },
  fields: (t) => ({
    everySeconds: t.exposeInt('everySeconds'),
    coins: t.field({ type: 'Coins', resolve: (r) => r.coins }),
  }),
});

const ScheduleRef = builder.objectRef<Schedule>('TariffSchedule').implement({
  description: "One side's checkpoints and repeat rule",
  authScopes: { signedIn: true },
  fields: (t) => ({
    checkpoints: t.field({ type: [CheckpointRef], resolve: (s) => s.checkpoints }),
    repeat: t.field({ type: RepeatRef, nullable: true, resolve: (s) => s.repeat }),
  }),
});

const TariffVersionRef = builder.objectRef<TariffVersion>('TariffVersion').implement({
  description: 'One version of a tariff; versions are never changed, an edit adds one',
  authScopes: { signedIn: true },
  fields: (t) => ({
    id: t.id({ resolve: (v) => v.id.toString() }),
    kind: t.field({ type: CallKindEnum, resolve: (v) => v.kind }),
    cohort: t.string({
      nullable: true,
      description: "Null for the kind's default",
      resolve: (v) => v.cohort || null,
    }),
    version: t.exposeInt('version'),
    payer: t.field({
      type: ScheduleRef,
      description: 'What the payer is charged',
      resolve: (v) => v.tariff.payer,
    }),
    earner: t.field({
      type: ScheduleRef,
      description: 'What the earner is credited',
      resolve: (v) => v.tariff.earner,
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (v) => v.createdAt }),
    createdBy: t.id({ nullable: true, authScopes: ADMIN, resolve: (v) => v.createdBy }),
  }),
});

const PreviewCheckpointRef = builder.objectRef<TariffCheckpoint>('TariffPreviewCheckpoint').implement({
  description: 'A checkpoint of the merged timeline: what each side gets at `second`',
  authScopes: { signedIn: true },
  fields: (t) => ({
    n: t.exposeInt('n'),
    second: t.exposeInt('second'),
    payer: t.field({ type: 'Coins', resolve: (c) => c.payer }),
    earner: t.field({ type: 'Coins', resolve: (c) => c.earner }),
  }),
});

const PreviewRef = builder
  .objectRef<{ tariff: TariffVersion; preview: TariffPreview }>('TariffPreview')
  .implement({
    description: 'What both sides get for a call of `seconds` seconds',
    authScopes: { signedIn: true },
    fields: (t) => ({
      tariff: t.field({ type: TariffVersionRef, resolve: (p) => p.tariff }),
      seconds: t.int({ resolve: (p) => p.preview.seconds }),
      payer: t.field({
        type: 'Coins',
        description: 'Coins the payer pays in total',
        resolve: (p) => p.preview.payer,
      }),
      earner: t.field({
        type: 'Coins',
        description: 'Coins the earner gets in total',
        resolve: (p) => p.preview.earner,
      }),
      platform: t.field({
        type: 'Coins',
        description: 'payer − earner (negative when the platform adds to the earnings)',
        resolve: (p) => p.preview.platform,
      }),
      checkpoints: t.int({ resolve: (p) => p.preview.checkpoints }),
      next: t.field({
        type: PreviewCheckpointRef,
        nullable: true,
        description: 'The first checkpoint after `seconds` (null when the tariff ends before)',
        resolve: (p) => p.preview.next,
      }),
    }),
  });

const ChargeRef = builder.objectRef<BillingCharge>('CallCharge').implement({
  description: 'One charged checkpoint of a call (ledger key call:{callId}:cp:{n})',
  authScopes: ADMIN,
  fields: (t) => ({
    n: t.exposeInt('n'),
    second: t.exposeInt('second'),
    payer: t.field({ type: 'Coins', resolve: (c) => c.payerCoins }),
    earner: t.field({ type: 'Coins', resolve: (c) => c.earnerCoins }),
    ledgerTransactionId: t.id({ nullable: true, resolve: (c) => c.ledgerTransactionId }),
    dueAt: t.field({ type: 'DateTime', resolve: (c) => c.dueAt }),
    chargedAt: t.field({ type: 'DateTime', resolve: (c) => c.chargedAt }),
  }),
});

const CallBillingRef = builder.objectRef<SessionView>('CallBilling').implement({
  description: "A call's billing: tariff version, totals and every charged checkpoint",
  authScopes: ADMIN,
  fields: (t) => ({
    callId: t.id({ resolve: (s) => s.callId }),
    kind: t.field({ type: CallKindEnum, resolve: (s) => s.kind }),
    payerId: t.id({ resolve: (s) => s.payerId }),
    earnerId: t.id({ resolve: (s) => s.earnerId }),
    tariff: t.field({ type: TariffVersionRef, resolve: (s) => s.tariff }),
    status: t.field({ type: BillingStatusEnum, resolve: (s) => s.status }),
    connectedAt: t.field({ type: 'DateTime', resolve: (s) => s.connectedAt }),
    endedAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.endedAt }),
    endReason: t.string({ nullable: true, resolve: (s) => s.endReason }),
    charged: t.field({ type: 'Coins', description: 'Coins charged to the payer', resolve: (s) => s.charged }),
    earned: t.field({ type: 'Coins', description: 'Coins credited to the earner', resolve: (s) => s.earned }),
    checkpointsCharged: t.exposeInt('checkpointsCharged'),
    cutOffCheckpoint: t.int({
      nullable: true,
      description: 'The checkpoint the payer could not pay, when cut off',
      resolve: (s) => s.cutOffN,
    }),
    nextRunAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.nextRunAt }),
    charges: t.field({ type: [ChargeRef], resolve: (s) => s.charges }),
  }),
});

const CheckpointInput = builder.inputType('TariffCheckpointInput', {
  fields: (t) => ({
    second: t.int({ required: true }),
    coins: t.field({ type: 'Coins', required: true }),
  }),
});

const RepeatInput = builder.inputType('TariffRepeatInput', {
  fields: (t) => ({
    everySeconds: t.int({ required: true }),
    coins: t.field({ type: 'Coins', required: true }),
  }),
});

const ScheduleInput = builder.inputType('TariffScheduleInput', {
  fields: (t) => ({
    checkpoints: t.field({ type: [CheckpointInput], required: true }),
    repeat: t.field({ type: RepeatInput, required: false }),
  }),
});

const cohortArg = z.string().trim().max(64).nullable();
const secondsArg = z
  .number()
  .int()
  .min(0)
  .max(4 * 3600);
const versionArg = z.number().int().min(1).nullable();

builder.queryFields((t) => ({
  tariffs: t.field({
    type: [TariffVersionRef],
    description: 'The current version of the default tariff and of every cohort tariff of a call kind',
    authScopes: ADMIN,
    args: { kind: t.arg({ type: CallKindEnum, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.tariffs.current(args.kind),
  }),
  tariffVersions: t.field({
    type: [TariffVersionRef],
    description: "Every version of one tariff, newest first (cohort null: the kind's default)",
    authScopes: ADMIN,
    args: {
      kind: t.arg({ type: CallKindEnum, required: true }),
      cohort: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.tariffs.versions(
        args.kind,
        parseOrThrow(cohortArg, args.cohort ?? null, 'cohort') || null,
      ),
  }),
  tariffPreview: t.field({
    type: PreviewRef,
    description:
      'What both sides get for a call of `seconds` seconds: by default under the tariff that applies to ' +
      'the caller now; `cohort` and/or `version` pick a specific tariff version',
    authScopes: { signedIn: true },
    args: {
      kind: t.arg({ type: CallKindEnum, required: true }),
      seconds: t.arg.int({ required: true }),
      version: t.arg.int({ required: false }),
      cohort: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.tariffs.preview({
        kind: args.kind,
        seconds: parseOrThrow(secondsArg, args.seconds, 'seconds'),
        version: parseOrThrow(versionArg, args.version ?? null, 'version'),
        cohort: parseOrThrow(cohortArg, args.cohort ?? null, 'cohort') || null,
        userId: requirePrincipal(ctx).userId,
      }),
  }),
  callBilling: t.field({
    type: CallBillingRef,
    nullable: true,
    description: "A call's billing (null when the call was never billed)",
    authScopes: ADMIN,
    args: { callId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.billing.session(parseOrThrow(z.uuid('must be an id'), String(args.callId), 'callId')),
  }),
}));

builder.mutationFields((t) => ({
  setTariff: t.field({
    type: TariffVersionRef,
    description:
      'Sets a new version of the tariff of a call kind (cohort null: the default). Calls already running ' +
      'keep their version. Audited.',
    authScopes: ADMIN,
    args: {
      kind: t.arg({ type: CallKindEnum, required: true }),
      cohort: t.arg.string({ required: false }),
      payer: t.arg({ type: ScheduleInput, required: true }),
      earner: t.arg({ type: ScheduleInput, required: true }),
      reason: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) => {
      const cohort = parseOrThrow(cohortArg, args.cohort ?? null, 'cohort') || null;
      const reason =
        parseOrThrow(z.string().trim().max(1000).nullable(), args.reason ?? null, 'reason') || null;
      return ctx.services.tariffs.setTariff(
        { principal: requirePrincipal(ctx), requestId: ctx.requestId },
        { kind: args.kind, cohort, tariff: { payer: args.payer, earner: args.earner }, reason },
      );
    },
  }),
}));
