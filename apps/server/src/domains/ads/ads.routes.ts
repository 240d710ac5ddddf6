import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sharedTokenMatches } from '../../providers/analytics/shared-token.ts';
import type { Services } from '../../services.ts';
import { apphudWebhookSchema } from './apphud.service.ts';
import { pushSchema } from './attribution.service.ts';

const send = (reply: FastifyReply, request: FastifyRequest, status: number, code: string, message: string) =>
  reply.code(status).send({ error: { code, message, requestId: request.id } });

/**
 * Vendors' pushes. Each is refused (404) until its secret is configured, and refused (401) without
 * the right secret: AppsFlyer's Push API authentication token (in the header chosen when it was set,
 * `Authorization` by default) and Apphud's `X-Apphud-Token`.
 */
export async function registerAdsRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const { ads } = services;

  app.post('/ads/appsflyer/push', async (request, reply) => {
    const push = ads.config.appsflyerPush;
    if (!push) return send(reply, request, 404, 'NOT_FOUND', 'AppsFlyer push is not enabled');
    if (!sharedTokenMatches(push.token, request.headers[push.header])) {
      request.log.warn('refused an AppsFlyer push without the right token');
      return send(reply, request, 401, 'UNAUTHENTICATED', 'The push could not be authenticated');
    }
    const body = pushSchema.safeParse(request.body);
    if (!body.success) return send(reply, request, 400, 'BAD_USER_INPUT', 'Expected a Push API JSON message');
    return reply.code(200).send({ outcome: await ads.attribution.recordPush(body.data) });
  });

  app.post('/ads/apphud/webhook', async (request, reply) => {
    const token = ads.config.apphudWebhookToken;
    if (!token) return send(reply, request, 404, 'NOT_FOUND', 'Apphud webhooks are not enabled');
    if (!sharedTokenMatches(token, request.headers['x-apphud-token'])) {
      request.log.warn('refused an Apphud webhook without the right token');
      return send(reply, request, 401, 'UNAUTHENTICATED', 'The webhook could not be authenticated');
    }
    const body = apphudWebhookSchema.safeParse(request.body);
    if (!body.success) return send(reply, request, 400, 'BAD_USER_INPUT', 'Expected { app, event, user }');
    return reply.code(200).send({ outcome: await ads.apphud.record(body.data) });
  });
}
