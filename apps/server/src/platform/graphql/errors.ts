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
  const mercuriusCode = (original as { code?: unknown } | undefined)?.code;
  if (typeof mercuriusCode === 'string' && mercuriusCode.startsWith('MER_ERR_')) {
    // Mercurius's own request errors (depth limit, malformed request): written for clients.
    return { message: error.message, ...base, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } };
  }
  if (!original) {
    // Raised by graphql-js while parsing, validating or coercing input: safe to show.
    // Input coercion messages from graphql-js and graphql-jit: well-formed request, bad values.
    const coercion =
      /Variable "\$|got invalid value|cannot represent|Expected value of type|Expected type|was not provided/.test(
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

/** Mercurius wraps validation failures in one error holding a list; clients want the list. */
export function flattenErrors(errors: readonly GraphQLError[]): GraphQLError[] {
  return errors.flatMap((error) => {
    const nested = (error.originalError as { errors?: unknown } | undefined)?.errors;
    return Array.isArray(nested) ? nested.map(toGraphQLError) : [error];
  });
}

export function toGraphQLError(error: unknown): GraphQLError {
  if (error instanceof GraphQLError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new GraphQLError(message, { originalError: error instanceof Error ? error : undefined });
}
