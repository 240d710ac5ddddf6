import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../platform/errors/app-error.ts';
import type { Services } from '../../services.ts';
import { VARIANT_NAMES } from './image-processing.ts';
import type { MediaKind } from './media.tables.ts';

const UPLOAD_KINDS: readonly MediaKind[] = ['photo', 'video', 'kyc_document'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const sendError = (reply: FastifyReply, request: FastifyRequest, status: number, error: AppError) =>
  reply
    .code(status)
    .send({ error: { code: error.code, message: error.message, ...error.details, requestId: request.id } });

const statusOf = (error: AppError) =>
  ({ BAD_USER_INPUT: 400, UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404 })[error.code as string] ??
  400;

/**
 * The stream's bytes, or undefined once it passes `limit`: the rest is drained (bounded by the
 * multipart fileSize limit) without being kept, so a too-large file never sits in memory.
 */
async function readAtMost(stream: AsyncIterable<Buffer>, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total <= limit) chunks.push(chunk);
  }
  return total > limit ? undefined : Buffer.concat(chunks);
}

/**
 * `POST /media` (multipart upload, signed in) and `GET /media/:id/:variant` (download by signed URL).
 * Uploads are not GraphQL: a file is a byte stream, and multipart is what every client can send.
 */
export async function registerMediaRoutes(app: FastifyInstance, services: Services): Promise<void> {
  // Its own plugin scope: the multipart parser applies to these routes only.
  await app.register(async (scope) => {
    await scope.register(multipart, {
      limits: {
        // The larger of the two limits; the per-kind limit is applied while the file part is read.
        fileSize: Math.max(services.media.maxBytesFor('photo'), services.media.maxBytesFor('video')),
        files: 1,
        fields: 4,
        fieldSize: 100,
        parts: 5,
      },
    });

    scope.post(
      '/media',
      {
        // Same bearer authentication as GraphQL; runs before the per-account rate limiter.
        preHandler: async (request, reply) => {
          try {
            request.principal = await services.authenticator.authenticate(
              request.headers.authorization,
              request.headers['x-hasura-role'],
            );
          } catch (error) {
            if (!(error instanceof AppError)) throw error;
            return sendError(reply, request, error.code === 'FORBIDDEN' ? 403 : 401, error);
          }
          if (!request.principal) {
            return sendError(reply, request, 401, new AppError('UNAUTHENTICATED', 'Sign in required'));
          }
        },
      },
      async (request, reply) => {
        const principal = request.principal;
        if (!principal) throw new Error('upload reached without a principal');
        let kind: string | undefined;
        let file: Buffer | undefined;
        try {
          if (!request.isMultipart()) {
            throw new AppError('BAD_USER_INPUT', 'Send the file as multipart/form-data', { field: 'file' });
          }
          for await (const part of request.parts()) {
            if (part.type === 'field') {
              if (part.fieldname === 'kind') kind = String(part.value);
            } else if (part.fieldname === 'file' && file === undefined) {
              // The part's declared content type and file name are ignored: the bytes decide. The kind
              // comes first (documented), so its own limit applies before more than that is buffered.
              const limit = services.media.maxBytesFor(kind === 'video' ? 'video' : 'photo');
              const bytes = await readAtMost(part.file, limit);
              // Truncated: it passed the multipart fileSize limit, so it is too large whatever its kind.
              if (!bytes || part.file.truncated) {
                throw new AppError('BAD_USER_INPUT', `The file is larger than ${limit} bytes`, {
                  field: 'file',
                });
              }
              file = bytes;
            } else {
              await part.toBuffer();
            }
          }
        } catch (error) {
          if (error instanceof AppError) return sendError(reply, request, 400, error);
          const code = (error as { code?: string }).code ?? '';
          if (code === 'FST_REQ_FILE_TOO_LARGE') {
            const message = `The file is larger than ${services.media.maxBytesFor(kind === 'video' ? 'video' : 'photo')} bytes`;
            return sendError(reply, request, 400, new AppError('BAD_USER_INPUT', message, { field: 'file' }));
          }
          if (code.startsWith('FST_')) {
            return sendError(
              reply,
              request,
              400,
              new AppError('BAD_USER_INPUT', 'Malformed upload', { field: 'file' }),
            );
          }
          throw error;
        }
        if (!kind || !(UPLOAD_KINDS as readonly string[]).includes(kind)) {
          const message = `kind must be one of ${UPLOAD_KINDS.join(', ')}`;
          return sendError(reply, request, 400, new AppError('BAD_USER_INPUT', message, { field: 'kind' }));
        }
        if (!file) {
          return sendError(
            reply,
            request,
            400,
            new AppError('BAD_USER_INPUT', 'A file is required', { field: 'file' }),
          );
        }
        try {
          const item = await services.media.upload(principal.userId, kind as MediaKind, file);
          return reply.code(201).send({ id: item.id, kind: item.kind, status: item.status });
        } catch (error) {
          if (error instanceof AppError) return sendError(reply, request, statusOf(error), error);
          throw error;
        }
      },
    );
  });

  app.get<{ Params: { id: string; variant: string }; Querystring: { expires?: string; sig?: string } }>(
    '/media/:id/:variant',
    async (request, reply) => {
      const { id, variant } = request.params;
      const valid =
        UUID.test(id) &&
        (VARIANT_NAMES as readonly string[]).includes(variant) &&
        services.media.verifyUrl(id, variant, request.query.expires, request.query.sig);
      if (!valid) {
        return sendError(
          reply,
          request,
          403,
          new AppError('FORBIDDEN', 'The link is invalid or has expired'),
        );
      }
      const object = await services.media.open(id, variant);
      if (!object) return sendError(reply, request, 404, new AppError('NOT_FOUND', 'Media not found'));
      const maxAge = Math.max(
        0,
        Number(request.query.expires) - Math.floor(services.clock.now().getTime() / 1000),
      );
      return (
        reply
          .header('content-type', object.contentType)
          .header('content-length', object.size)
          // Private: a shared cache must not hand a signed-for-one-user file to someone else.
          .header('cache-control', `private, max-age=${maxAge}`)
          // The apps embed these from their own origins; helmet's default would block that.
          .header('cross-origin-resource-policy', 'cross-origin')
          .send(object.body)
      );
    },
  );
}
