import { builder } from '../graphql/builder.ts';
import { requirePrincipal } from '../graphql/context.ts';
import { channels } from './pubsub.ts';
import { sessionStillActive, streamChannel } from './stream.ts';

/** What the account's own channel carries: an event about this account, after it was committed. */
export type AccountEventMessage = { type: string; occurredAt: string; payload: unknown };

const AccountEvent = builder.objectRef<AccountEventMessage>('AccountEvent').implement({
  description: 'Something that happened to the calling account (a sign-in elsewhere, …)',
  authScopes: { signedIn: true },
  fields: (t) => ({
    type: t.exposeString('type'),
    occurredAt: t.field({ type: 'DateTime', resolve: (e) => e.occurredAt }),
    payload: t.field({ type: 'JSON', resolve: (e) => e.payload }),
  }),
});

builder.subscriptionField('accountEvents', (t) =>
  t.field({
    type: AccountEvent,
    description: 'Events about the calling account, on its own channel; ends when the session is signed out',
    authScopes: { signedIn: true },
    subscribe: (_root, _args, ctx) => {
      const principal = requirePrincipal(ctx);
      return streamChannel(ctx.services.pubsub, channels.user(principal.userId), sessionStillActive(ctx));
    },
    resolve: (message) => message as AccountEventMessage,
  }),
);
