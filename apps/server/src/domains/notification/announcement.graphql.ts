import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import { builder } from '../../platform/graphql/builder.ts';
import { channels } from '../../platform/realtime/pubsub.ts';
import { sessionStillActive, streamChannel } from '../../platform/realtime/stream.ts';

type Announcement = { id: string; message: string; publishedAt: string };

const ANNOUNCEMENTS = channels.topic('announcements');
const messageSchema = z
  .string()
  .trim()
  .min(1, 'message must not be empty')
  .max(500, 'message must have at most 500 characters');

const AnnouncementRef = builder.objectRef<Announcement>('Announcement').implement({
  description: 'A message from the operators to everyone signed in right now',
  authScopes: { signedIn: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    message: t.exposeString('message'),
    publishedAt: t.field({ type: 'DateTime', resolve: (a) => a.publishedAt }),
  }),
});

builder.mutationField('publishAnnouncement', (t) =>
  t.field({
    type: AnnouncementRef,
    description: 'Sends a message to every signed-in client subscribed to announcements, on every node',
    authScopes: { role: ['admin'] },
    args: { message: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const announcement: Announcement = {
        id: randomUUID(),
        message: parseOrThrow(messageSchema, args.message, 'message'),
        publishedAt: ctx.services.clock.now().toISOString(),
      };
      await ctx.services.pubsub.publish(ANNOUNCEMENTS, announcement);
      return announcement;
    },
  }),
);

builder.subscriptionField('announcements', (t) =>
  t.field({
    type: AnnouncementRef,
    description: 'Announcements published from now on (a topic channel shared by all signed-in clients)',
    authScopes: { signedIn: true },
    subscribe: (_root, _args, ctx) =>
      streamChannel(ctx.services.pubsub, ANNOUNCEMENTS, sessionStillActive(ctx)),
    resolve: (message) => message as Announcement,
  }),
);
