import type { Role } from '../../platform/auth/roles.ts';
import { badInput } from '../../platform/errors/app-error.ts';
import { builder } from '../../platform/graphql/builder.ts';
import type { LoggedEvent } from './event-catalogue.ts';
import type { DeadLetterRow } from './event-log.repository.ts';
import type { ConsumerView, Page } from './event-log.service.ts';

// The whole event log is operators' data: payloads name users and what they did.
const adminOnly: { role: Role[] } = { role: ['admin'] };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const LoggedEventRef = builder.objectRef<LoggedEvent>('LoggedEvent').implement({
  description: 'An event of the event log, committed, with its place in commit order',
  authScopes: adminOnly,
  fields: (t) => ({
    id: t.exposeID('id'),
    position: t.string({
      description: 'Place in commit order (int8 as a decimal string); gaps are possible',
      resolve: (e) => e.position.toString(),
    }),
    type: t.exposeString('type'),
    version: t.exposeInt('version'),
    payload: t.field({ type: 'JSON', resolve: (e) => e.payload }),
    userId: t.exposeID('userId', { nullable: true }),
    occurredAt: t.field({ type: 'DateTime', resolve: (e) => e.occurredAt }),
  }),
});

const LoggedEventPage = builder.objectRef<Page<LoggedEvent>>('LoggedEventPage').implement({
  description: 'Events, newest first. Pass nextCursor as `after` for the next page; null at the end.',
  authScopes: adminOnly,
  fields: (t) => ({
    items: t.field({ type: [LoggedEventRef], resolve: (p) => p.items }),
    nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
  }),
});

const LoggedEventFilter = builder.inputType('LoggedEventFilter', {
  fields: (t) => ({
    type: t.string({ required: false }),
    userId: t.id({ required: false }),
    from: t.field({ type: 'DateTime', required: false, description: 'occurredAt at or after' }),
    to: t.field({ type: 'DateTime', required: false, description: 'occurredAt before' }),
  }),
});

const ConsumerStatusEnum = builder.enumType('EventConsumerStatus', {
  values: ['running', 'stopped'] as const,
});

const EventConsumerRef = builder.objectRef<ConsumerView>('EventConsumer').implement({
  description: 'A durable consumer of the event log and how far it got',
  authScopes: adminOnly,
  fields: (t) => ({
    name: t.exposeString('name'),
    status: t.field({ type: ConsumerStatusEnum, resolve: (c) => c.status }),
    cursor: t.string({ description: 'Last position passed', resolve: (c) => c.cursor.toString() }),
    lag: t.string({
      description: 'Head position minus cursor: an upper bound of the events still to handle',
      resolve: (c) => c.lag.toString(),
    }),
    attempts: t.exposeInt('attempts', { description: 'Failures of the next event so far' }),
    retryAt: t.field({ type: 'DateTime', nullable: true, resolve: (c) => c.retryAt }),
    lastError: t.exposeString('lastError', { nullable: true }),
    updatedAt: t.field({ type: 'DateTime', resolve: (c) => c.updatedAt }),
    registeredHere: t.exposeBoolean('registeredHere', {
      description:
        'Whether the server that answered runs this consumer (only then can it retry its dead letters)',
    }),
  }),
});

const DeadLetterRef = builder.objectRef<DeadLetterRow>('DeadLetter').implement({
  description: 'An event a consumer gave up on after its last attempt',
  authScopes: adminOnly,
  fields: (t) => ({
    id: t.id({ resolve: (d) => d.id.toString() }),
    consumer: t.exposeString('consumer'),
    event: t.field({ type: LoggedEventRef, resolve: (d) => d.event }),
    error: t.exposeString('error', { description: 'The latest failure' }),
    attempts: t.exposeInt('attempts'),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
    retries: t.exposeInt('retries', { description: 'Retries by an admin so far' }),
    retriedAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.retriedAt }),
    resolvedAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.resolvedAt }),
  }),
});

const DeadLetterPage = builder.objectRef<Page<DeadLetterRow>>('DeadLetterPage').implement({
  description: 'Dead letters, newest first. Pass nextCursor as `after` for the next page; null at the end.',
  authScopes: adminOnly,
  fields: (t) => ({
    items: t.field({ type: [DeadLetterRef], resolve: (p) => p.items }),
    nextCursor: t.string({ nullable: true, resolve: (p) => p.nextCursor }),
  }),
});

builder.queryFields((t) => ({
  events: t.field({
    type: LoggedEventPage,
    description: 'The event log, newest first (admin)',
    authScopes: adminOnly,
    args: {
      filter: t.arg({ type: LoggedEventFilter, required: false }),
      first: t.arg.int({ required: false, description: '1 to 100, default 50' }),
      after: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) => {
      const filter = args.filter ?? {};
      if (filter.userId && !UUID.test(String(filter.userId))) {
        throw badInput('userId is not a user id', { field: 'filter.userId' });
      }
      return ctx.services.eventLog.listEvents(
        {
          ...(filter.type ? { type: filter.type } : {}),
          ...(filter.userId ? { userId: String(filter.userId) } : {}),
          ...(filter.from ? { from: filter.from } : {}),
          ...(filter.to ? { to: filter.to } : {}),
        },
        args.first,
        args.after,
      );
    },
  }),
  eventConsumers: t.field({
    type: [EventConsumerRef],
    description: 'Every durable consumer of the event log, by name (admin)',
    authScopes: adminOnly,
    resolve: (_root, _args, ctx) => ctx.services.eventLog.listConsumers(),
  }),
  deadLetters: t.field({
    type: DeadLetterPage,
    description: 'Events consumers gave up on, newest first (admin)',
    authScopes: adminOnly,
    args: {
      consumer: t.arg.string({ required: false }),
      resolved: t.arg.boolean({ required: false, description: 'Only resolved (true) or open (false) ones' }),
      first: t.arg.int({ required: false, description: '1 to 100, default 50' }),
      after: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.eventLog.listDeadLetters(
        {
          ...(args.consumer ? { consumer: args.consumer } : {}),
          ...(typeof args.resolved === 'boolean' ? { resolved: args.resolved } : {}),
        },
        args.first,
        args.after,
      ),
  }),
}));

builder.mutationFields((t) => ({
  retryDeadLetter: t.field({
    type: DeadLetterRef,
    description:
      'Runs the consumer on the dead letter’s event now; resolvedAt is set when it succeeded, error otherwise (admin)',
    authScopes: adminOnly,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.eventLog.retryDeadLetter(String(args.id)),
  }),
  resumeEventConsumer: t.field({
    type: EventConsumerRef,
    description: 'Sets a stopped consumer running again, from the event after the one it stopped at (admin)',
    authScopes: adminOnly,
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.eventLog.resumeConsumer(args.name),
  }),
}));
