import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { AppError } from '../errors/app-error.ts';
import type { Logger } from '../observability/logger.ts';

/**
 * The single place where errors become what a client sees: AppErrors keep their message and code;
 * GraphQL's own parse/validation errors get GRAPHQL_VALIDATION_FAILED or BAD_USER_INPUT; anything
 * else is logged with the request id and reported as INTERNAL_SERVER_ERROR with no detail.
 */
export function formatError(error: GraphQLError, log: Logger, requestId: string): GraphQLFormattedError {
  const original = error.originalError;
  const base = {
    ...(error.locations ? { locations: error.locations } : {}),
    ...(error.path ? { path: error.path } : {}),
  };
  if (original instanceof AppError) {
    return { message: original.message, ...base, extensions: { code: original.code, ...original.details } };
  }
  if (original instanceof GraphQLError) return formatError(original, log, requestId);
  const requestStatus = clientRequestStatus(original);
  if (requestStatus !== undefined) {
    // Fastify's and Mercurius's own request errors (malformed JSON, wrong method, depth limit): written for clients.
    const code = (original as { code?: unknown }).code;
    const validation = typeof code === 'string' && code.startsWith('MER_ERR_GQL');
    return {
      message: error.message,
      ...base,
      extensions: { code: validation ? 'GRAPHQL_VALIDATION_FAILED' : 'BAD_REQUEST' },
    };
  }
  if (!original) {
    // Raised by graphql-js or graphql-jit while parsing, validating or coercing input: safe to show.
    // Coercion messages mean the request was well-formed but a value was not.
    const coercion =
      /Variable "\$[^"]+" got invalid value|Variable "\$[^"]+" of (required|non-null) type|cannot represent|Expected value of type|Expected type/.test(
        error.message,
      );
    return {
      message: error.message,
      ...base,
      extensions: { code: coercion ? 'BAD_USER_INPUT' : 'GRAPHQL_VALIDATION_FAILED' },
    };
  }
  log.error({ err: original, path: error.path }, 'unexpected error in resolver');
  return {
    message: 'Internal server error',
    ...base,
    extensions: { code: 'INTERNAL_SERVER_ERROR', requestId },
  };
}

/** The 4xx status a framework error carries (e.g. 400 malformed JSON, 405 mutation over GET), if any. */
export function clientRequestStatus(original: unknown): number | undefined {
  if (original instanceof AppError || typeof original !== 'object' || original === null) return undefined;
  const { statusCode, code } = original as { statusCode?: unknown; code?: unknown };
  // Mercurius raises some GraphQL validation errors (query depth) without a 4xx status.
  if (typeof code === 'string' && code.startsWith('MER_ERR_GQL')) return 400;
  return typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500 ? statusCode : undefined;
}

/** Mercurius wraps validation failures in one error holding a list; clients want the list. */
export function flattenErrors(errors: readonly GraphQLError[]): GraphQLError[] {
  return errors.flatMap((error) => {
    const nested = (error.originalError as { errors?: unknown } | undefined)?.errors;
    if (!Array.isArray(nested)) return [error];
    // Plain nested errors keep the wrapper as their origin, so its status and code still count.
    return nested.map((inner: unknown) =>
      inner instanceof GraphQLError
        ? inner
        : new GraphQLError(inner instanceof Error ? inner.message : String(inner), {
            originalError: error.originalError,
          }),
    );
  });
}
