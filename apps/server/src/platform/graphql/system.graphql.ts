import { builder } from './builder.ts';

const ServerInfo = builder.objectRef<{ version: string; time: Date }>('ServerInfo').implement({
  authScopes: { public: true },
  fields: (t) => ({
    version: t.exposeString('version'),
    time: t.field({ type: 'DateTime', resolve: (s) => s.time }),
  }),
});

builder.queryField('serverInfo', (t) =>
  t.field({
    type: ServerInfo,
    description: "The server's version and clock",
    authScopes: { public: true },
    resolve: (_root, _args, ctx) => ({ version: ctx.services.version, time: ctx.services.clock.now() }),
  }),
);

builder.subscriptionField('serverClock', (t) =>
  t.field({
    type: 'DateTime',
    description: "Ticks with the server's time; a signed-in connectivity check for clients",
    authScopes: { signedIn: true },
    args: { intervalMs: t.arg.int({ required: false, defaultValue: 1000 }) },
    subscribe: async function* (_root, args, ctx) {
      const interval = Math.min(Math.max(args.intervalMs ?? 1000, 100), 60_000);
      while (true) {
        yield ctx.services.clock.now();
        await new Promise((resolve) => setTimeout(resolve, interval).unref());
      }
    },
    resolve: (time) => time,
  }),
);
