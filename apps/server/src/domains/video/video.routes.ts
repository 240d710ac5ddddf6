import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WebhookRejected } from '../../providers/video/video.provider.ts';
import type { Services } from '../../services.ts';
import { applyRoomEvents } from './call-webhooks.ts';

const send = (reply: FastifyReply, request: FastifyRequest, status: number, code: string, message: string) =>
  reply.code(status).send({ error: { code, message, requestId: request.id } });

/**
 * Vendors' room webhooks: Agora's Notification Center (JSON, Agora-Signature-V2) and Twilio's room
 * status callbacks (form-encoded, X-Twilio-Signature over PUBLIC_URL + path). Bodies are kept raw:
 * the signatures cover the exact bytes. A provider that is not configured answers 404; a bad
 * signature 401 and nothing changes; a replay 200 and nothing changes.
 */
export async function registerVideoRoutes(
  app: FastifyInstance,
  services: Services,
  publicUrl: string,
): Promise<void> {
  await app.register(async (scope) => {
    const raw = (_request: FastifyRequest, body: Buffer, done: (error: null, body: Buffer) => void) =>
      done(null, body);
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, raw);
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, raw);

    for (const name of ['agora', 'twilio'] as const) {
      const path = name === 'agora' ? '/video/agora/webhook' : '/video/twilio/status';
      scope.post(path, async (request, reply) => {
        const provider = services.video.selector.byName(name);
        if (!provider)
          return send(reply, request, 404, 'NOT_FOUND', `${name} is not a configured video provider`);
        const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        let events: ReturnType<typeof provider.verifyWebhook>;
        try {
          events = provider.verifyWebhook({
            headers: request.headers,
            rawBody,
            url: `${publicUrl}${request.url}`,
          });
        } catch (error) {
          if (!(error instanceof WebhookRejected)) throw error;
          request.log.warn({ provider: name, why: error.message }, 'refused a video webhook');
          return send(reply, request, 401, 'UNAUTHENTICATED', 'The webhook could not be verified');
        }
        const outcomes = await applyRoomEvents(services.video.engine, services.callRooms, events);
        return reply.code(200).send({ outcomes });
      });
    }
  });
}
