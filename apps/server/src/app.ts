import cors from '@fastify/cors';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerAdsRoutes } from './domains/ads/ads.routes.ts';
import { registerMediaRoutes } from './domains/media/media.routes.ts';
import { registerPaymentRoutes } from './domains/payment/payment.routes.ts';
import { registerVideoRoutes } from './domains/video/video.routes.ts';
import type { Clock } from './platform/clock.ts';
import type { Config } from './platform/config/config.ts';
import type { DatabaseHandle } from './platform/db/database.ts';
import type { MigrationFile } from './platform/db/migrator.ts';
import { registerGraphql } from './platform/graphql/graphql.plugin.ts';
import { attachGraphqlWebSocket } from './platform/graphql/websocket.ts';
import { registerHealthRoutes } from './platform/http/health.routes.ts';
import { registerHttpLimits } from './platform/http/limits.plugin.ts';
import { requestIdFrom } from './platform/http/request-id.ts';
import { loggerOptions } from './platform/observability/logger.ts';
import { createMetrics } from './platform/observability/metrics.ts';
import { createPubSub } from './platform/realtime/create-pubsub.ts';
import { channels } from './platform/realtime/pubsub.ts';
import { createServices, type Services } from './services.ts';

export type App = {
  app: FastifyInstance;
  services: Services;
  /** Stops accepting, lets in-flight requests finish, closes sockets (1001) and the pool. */
  shutdown: () => Promise<void>;
};

export async function buildApp(options: {
  config: Config;
  database: DatabaseHandle;
  migrations: MigrationFile[];
  clock: Clock;
}): Promise<App> {
  const { config, database, clock } = options;
  const app = Fastify({
    logger: loggerOptions(config),
    genReqId: (request) => requestIdFrom(request.headers['x-request-id']),
    trustProxy: config.trustProxy,
    bodyLimit: config.limits.httpBodyLimitBytes,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  const metrics = createMetrics();
  metrics.observePool(() => database.pool);
  const pubsub = await createPubSub({
    redisUrl: config.redisUrl,
    pool: database.pool,
    databaseUrl: database.url,
    logger: app.log,
  });
  const services = createServices({
    db: database.db,
    config,
    clock,
    logger: app.log,
    pubsub,
    databaseUrl: database.url,
  });
  let shuttingDown = false;

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // A keep-alive connection whose request was in flight at shutdown would otherwise hold the close open.
  app.addHook('onSend', async (_request, reply) => {
    if (shuttingDown) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpRequestDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
  // Whatever escapes a route: log it with the request id, show the client nothing internal.
  app.setErrorHandler((error: Error, request, reply) => {
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply
        .code(status)
        .send({ error: { code: 'BAD_REQUEST', message: error.message, requestId: request.id } });
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({
      error: { code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error', requestId: request.id },
    });
  });

  await app.register(cors, {
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : config.env !== 'production',
    credentials: true,
  });
  // Before any route: the rate limiter and the GraphiQL security headers attach to routes as they are added.
  await registerHttpLimits(app, {
    rateLimitPerIpPerMinute: config.limits.rateLimitPerIpPerMinute,
    rateLimitPerUserPerMinute: config.limits.rateLimitPerUserPerMinute,
    redisUrl: config.redisUrl,
    production: config.env === 'production',
    logger: app.log,
  });
  registerHealthRoutes(app, {
    pool: database.pool,
    migrations: options.migrations,
    metrics,
    isShuttingDown: () => shuttingDown,
  });
  app.get('/.well-known/jwks.json', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return services.signingKeys.jwks();
  });
  await registerGraphql(app, {
    services,
    metrics,
    graphiql: config.graphiql,
    limits: { maxDepth: config.graphqlMaxDepth, maxComplexity: config.limits.graphqlMaxComplexity },
  });
  // After GraphQL: it declares request.principal, which the upload route sets.
  await registerMediaRoutes(app, services);
  await registerPaymentRoutes(app, services);
  await registerAdsRoutes(app, services);
  await registerVideoRoutes(app, services, config.publicUrl);
  const sockets = attachGraphqlWebSocket(app, {
    services,
    metrics,
    logger: app.log,
    trustProxy: config.trustProxy,
    limits: {
      operation: { maxDepth: config.graphqlMaxDepth, maxComplexity: config.limits.graphqlMaxComplexity },
      maxConnectionsPerUser: config.limits.wsMaxConnectionsPerUser,
      maxConnectionsPerIp: config.limits.wsMaxConnectionsPerIp,
      maxSubscriptionsPerConnection: config.limits.wsMaxSubscriptionsPerConnection,
      maxMessageBytes: config.limits.httpBodyLimitBytes,
    },
    onConnectionChange: (change) => services.presence.connectionChanged(change),
  });
  // This node's row and heartbeat: its users' connections count only while it beats.
  await services.presence.start();
  // A sign-out on any node drops the session from this node's caches and closes its sockets here.
  const revocations = new AbortController();
  const revoked = await pubsub.subscribe(channels.sessionsRevoked, revocations.signal);
  // A settings change on any node drops this node's cached settings.
  await services.settings.listen(revocations.signal);
  // Loaded before serving: from then on a settings read never waits on the database.
  await services.settings.refresh();
  void (async () => {
    for await (const ids of revoked) {
      if (!Array.isArray(ids)) continue;
      const sessionIds = ids.filter((id): id is string => typeof id === 'string');
      services.accounts.forgetSessions(sessionIds);
      sockets.closeSessions(sessionIds);
    }
  })();
  // A ban on any node: forget cached accounts here and close the banned users' sockets with 4403.
  const banned = await pubsub.subscribe(channels.usersBanned, revocations.signal);
  void (async () => {
    for await (const ids of banned) {
      if (!Array.isArray(ids)) continue;
      services.accounts.forgetAccounts();
      sockets.closeUsers(
        ids.filter((id): id is string => typeof id === 'string'),
        'BANNED',
      );
    }
  })();
  // Roles changed or an account deleted on any node: take effect here at once, not after the cache TTL.
  const changed = await pubsub.subscribe(channels.accountsChanged, revocations.signal);
  void (async () => {
    for await (const _ids of changed) services.accounts.forgetAccounts();
  })();

  return {
    app,
    services,
    shutdown: async () => {
      if (shuttingDown) return;
      shuttingDown = true;
      revocations.abort();
      // No new cron ticks or jobs from here; running jobs finish (bounded) while requests drain.
      const stoppingTimetable = services.cron.stop().then(() => services.jobs.stop());
      // Stop accepting first, then tell socket clients to go elsewhere while requests finish.
      const closing = app.close();
      await sockets.shutdown();
      // The sockets' closes are recorded and this node's users go offline now, not after the TTL.
      await services.presence.stop();
      await closing;
      // Consumers finish their batch while the pool is still open.
      await services.eventLog.stop();
      await stoppingTimetable;
      // No job pushes any more: the push providers' connections (APNs HTTP/2) can go.
      await services.notifications.providers.close();
      await pubsub.close();
      await database.close();
    },
  };
}
