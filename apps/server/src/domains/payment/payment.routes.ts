import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError } from '../../platform/errors/app-error.ts';
import { AppleVerificationError } from '../../providers/payments/apple-verifier.ts';
import { PubSubPushAuthError } from '../../providers/payments/pubsub-push-auth.ts';
import type { Services } from '../../services.ts';
import { AppleUnavailableError } from './apple-purchases.ts';

const appleBodySchema = z.object({ signedPayload: z.string().min(1).max(200_000) });

const send = (reply: FastifyReply, request: FastifyRequest, status: number, code: string, message: string) =>
  reply.code(status).send({ error: { code, message, requestId: request.id } });

/**
 * The stores' server-to-server notifications. Both answer 200 once a notification is recorded
 * (including a replay, which changes nothing); anything else makes the store send it again later,
 * which is what we want when we could not process it, and harmless when it was forged (401).
 */
export async function registerPaymentRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const { payments } = services;

  // App Store Server Notifications V2: { signedPayload } signed by Apple (or by the sandbox store).
  app.post('/payments/apple/notifications', async (request, reply) => {
    const body = appleBodySchema.safeParse(request.body);
    if (!body.success) return send(reply, request, 400, 'BAD_USER_INPUT', 'Expected { signedPayload }');
    try {
      const outcome = await payments.apple.handleNotification(body.data.signedPayload);
      return reply.code(200).send({ outcome });
    } catch (error) {
      if (error instanceof AppleVerificationError) {
        request.log.warn({ status: error.status }, 'refused an Apple notification');
        return send(reply, request, 401, 'UNAUTHENTICATED', 'The notification could not be verified');
      }
      if (error instanceof AppleUnavailableError) {
        return send(reply, request, 503, 'INTERNAL_SERVER_ERROR', 'Apple could not be reached; try again');
      }
      throw error;
    }
  });

  // Google Play Real-time Developer Notifications, pushed by Pub/Sub.
  app.post<{ Querystring: { token?: string } }>('/payments/google/rtdn', async (request, reply) => {
    if (!payments.google.enabled || !payments.rtdnAuth.configured) {
      return send(reply, request, 404, 'NOT_FOUND', 'Google Play notifications are not enabled');
    }
    try {
      await payments.rtdnAuth.authenticate({
        authorization: request.headers.authorization,
        token: typeof request.query.token === 'string' ? request.query.token : undefined,
      });
    } catch (error) {
      if (!(error instanceof PubSubPushAuthError)) throw error;
      request.log.warn({ reason: error.message }, 'refused a Pub/Sub push');
      return send(reply, request, 401, 'UNAUTHENTICATED', 'The push could not be authenticated');
    }
    try {
      const outcome = await payments.google.handleNotification(request.body);
      return reply.code(200).send({ outcome });
    } catch (error) {
      if (error instanceof AppError && error.code === 'BAD_USER_INPUT') {
        return send(reply, request, 400, error.code, error.message);
      }
      throw error;
    }
  });
}
