import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type DocumentNode, GraphQLError, Kind, type OperationDefinitionNode } from 'graphql';
import mercurius from 'mercurius';
import type { Services } from '../../services.ts';
import type { Principal } from '../auth/principal.ts';
import { AppError } from '../errors/app-error.ts';
import type { Metrics } from '../observability/metrics.ts';
import { type OperationLimits, operationLimitsRule, variableCostErrors } from './complexity.ts';
import type { GraphQLContext } from './context.ts';
import { clientRequestStatus, flattenErrors, formatError } from './errors.ts';
import { buildSchema } from './schema.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

type OperationLabel = { operation_type: string; operation_name: string };

function operationOf(document: DocumentNode): OperationLabel {
  const op = document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  return { operation_type: op?.operation ?? 'unknown', operation_name: op?.name?.value ?? 'anonymous' };
}

export function requestContext(request: FastifyRequest, services: Services): GraphQLContext {
  return {
    principal: request.principal ?? null,
    requestId: String(request.id),
    ip: request.ip ?? null,
    userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : null,
    services,
    log: request.log,
  };
}

/**
 * GraphQL over HTTP at /graphql. The bearer token is checked before GraphQL runs: a bad token
 * fails the whole request (401/403) rather than silently acting as anonymous.
 */
export async function registerGraphql(
  app: FastifyInstance,
  options: { services: Services; metrics: Metrics; graphiql: boolean; limits: OperationLimits },
) {
  const { services, metrics } = options;
  app.decorateRequest('principal', null);
  app.addHook('preHandler', async (request, reply) => {
    if (request.routeOptions.url !== '/graphql') return;
    try {
      request.principal = await services.authenticator.authenticate(
        request.headers.authorization,
        request.headers['x-hasura-role'],
      );
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      const status = error.code === 'FORBIDDEN' || error.code === 'BANNED' ? 403 : 401;
      return reply.code(status).send({
        data: null,
        errors: [{ message: error.message, extensions: { code: error.code, ...error.details } }],
      });
    }
  });

  await app.register(mercurius, {
    schema: buildSchema(),
    path: '/graphql',
    graphiql: options.graphiql,
    // Our rule, not Mercurius's queryDepth: WebSocket operations get the same depth and cost checks.
    validationRules: [operationLimitsRule(options.limits)],
    jit: 1,
    context: (request) => requestContext(request, services),
    errorFormatter: (execution, ctx) => {
      // Errors raised before the context exists (malformed body) only carry Fastify's reply.
      const context = ctx as unknown as Partial<GraphQLContext> & { reply?: { request: FastifyRequest } };
      const log = context.log ?? context.reply?.request.log ?? app.log;
      const requestId = context.requestId ?? String(context.reply?.request.id ?? 'unknown');
      const raw = flattenErrors(execution.errors as GraphQLError[]);
      const errors = raw.map((e) => formatError(e, log, requestId));
      const requestStatus = raw.map((e) => clientRequestStatus(e.originalError)).find((s) => s !== undefined);
      const onlyRequestErrors =
        !execution.data && errors.every((e) => e.extensions?.code === 'GRAPHQL_VALIDATION_FAILED');
      const statusCode = requestStatus ?? (onlyRequestErrors ? 400 : 200);
      return { statusCode, response: { data: execution.data ?? null, errors } };
    },
  });

  // Validation is cached per query text, so lists sized by variables are costed here, per request.
  app.graphql.addHook('preExecution', (schema, document, _context, variables) => {
    const [tooComplex] = variableCostErrors(schema, document, variables, options.limits.maxComplexity);
    if (tooComplex) throw tooComplex;
  });

  // An outdated app gets UPDATE_REQUIRED on everything but reading settings; the same check runs on WebSocket.
  app.graphql.addHook('preExecution', async (_schema, document, context) => {
    const headers = context.reply.request.headers;
    const refused = await services.settings.clientVersionError(
      headers['x-client-platform'],
      headers['x-client-version'],
      document,
    );
    if (refused) throw new GraphQLError(refused.message, { originalError: refused });
  });

  const started = new WeakMap<object, { label: OperationLabel; at: bigint }>();
  app.graphql.addHook('preExecution', (_schema, document, context) => {
    started.set(context, { label: operationOf(document), at: process.hrtime.bigint() });
  });
  app.graphql.addHook('onResolution', (execution, context) => {
    const start = started.get(context);
    if (!start) return;
    const seconds = Number(process.hrtime.bigint() - start.at) / 1e9;
    metrics.graphqlDuration.observe(start.label, seconds);
    metrics.graphqlOperations.inc({ ...start.label, outcome: execution.errors?.length ? 'error' : 'ok' });
  });
}
