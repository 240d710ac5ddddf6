/** The codes the server documents in `extensions.code`, plus the SDK's own transport codes. */
export type OloErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'INSUFFICIENT_FUNDS'
  | 'UPDATE_REQUIRED'
  | 'BANNED'
  | 'INTERNAL_SERVER_ERROR'
  | 'GRAPHQL_VALIDATION_FAILED'
  /** The server could not be reached, or the connection broke. */
  | 'NETWORK_ERROR'
  /** The server answered with something that is not a GraphQL response. */
  | 'BAD_RESPONSE'
  | 'SERVICE_UNAVAILABLE'
  | 'HTTP_ERROR'
  | (string & {});

/** One error as the server formats it (GraphQL over HTTP and over WebSocket). */
export type OloGraphQLError = {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: Record<string, unknown>;
};

/** Any failure of an SDK call: `code` says what kind, `details` carries the rest of `extensions`. */
export class OloError extends Error {
  override name = 'OloError';
  readonly code: OloErrorCode;
  readonly details: Record<string, unknown>;
  /** HTTP status of the response, when there was one. */
  readonly status: number | undefined;
  /** Every error of the response (the first one names this error). */
  readonly errors: readonly OloGraphQLError[];

  constructor(init: {
    message: string;
    code: OloErrorCode;
    details?: Record<string, unknown>;
    status?: number | undefined;
    errors?: readonly OloGraphQLError[];
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.details = init.details ?? {};
    this.status = init.status;
    this.errors = init.errors ?? [];
  }

  /** The `reason` the server gives for UNAUTHENTICATED (`expired`, `revoked`, `malformed`, …). */
  get reason(): string | undefined {
    return typeof this.details.reason === 'string' ? this.details.reason : undefined;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function asGraphQLError(value: unknown): OloGraphQLError {
  if (!isRecord(value)) return { message: String(value) };
  return {
    message: typeof value.message === 'string' ? value.message : 'Unknown error',
    ...(Array.isArray(value.path) ? { path: value.path as Array<string | number> } : {}),
    ...(isRecord(value.extensions) ? { extensions: value.extensions } : {}),
  };
}

/** Builds an OloError from a GraphQL `errors` list. */
export function fromGraphQLErrors(errors: readonly unknown[], status?: number): OloError {
  const list = errors.map(asGraphQLError);
  const first = list[0] ?? { message: 'Unknown error' };
  const { code, ...details } = first.extensions ?? {};
  return new OloError({
    message: first.message,
    code: typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR',
    details,
    status,
    errors: list,
  });
}

const STATUS_CODES: Record<number, OloErrorCode> = {
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

/** Builds an OloError from a response without GraphQL errors (proxy pages, Fastify error bodies). */
export function fromHttpResponse(status: number, body: unknown): OloError {
  const nested = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  const code =
    typeof nested?.code === 'string'
      ? nested.code
      : (STATUS_CODES[status] ?? (status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'HTTP_ERROR'));
  const { code: _code, message: given, ...details } = nested ?? (isRecord(body) ? body : {});
  const message = typeof given === 'string' ? given : `HTTP ${status}`;
  return new OloError({ message, code, status, details });
}

type CloseLike = { code: number; reason: string };

export const isCloseEvent = (value: unknown): value is CloseLike =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { code?: unknown }).code === 'number' &&
  'reason' in value;

/** Turns whatever a graphql-ws subscription rejected with into an OloError. */
export function fromSubscriptionFailure(failure: unknown): OloError {
  if (failure instanceof OloError) return failure;
  if (Array.isArray(failure)) return fromGraphQLErrors(failure);
  if (isCloseEvent(failure)) {
    const code =
      failure.code === 4401 ? 'UNAUTHENTICATED' : failure.code === 4403 ? 'FORBIDDEN' : 'NETWORK_ERROR';
    return new OloError({
      message: failure.reason || `WebSocket closed (${failure.code})`,
      code,
      details: { closeCode: failure.code },
    });
  }
  return new OloError({
    message: failure instanceof Error ? failure.message : 'WebSocket error',
    code: 'NETWORK_ERROR',
    cause: failure,
  });
}
