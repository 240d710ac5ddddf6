import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { GraphQLError, Kind } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Services } from '../../services.ts';
import type { Principal } from '../auth/principal.ts';
import { AppError } from '../errors/app-error.ts';
import { requestIdFrom } from '../http/request-id.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { GraphQLContext } from './context.ts';
import { formatError } from './errors.ts';
import { buildSchema } from './schema.ts';
import { ConnectionQuota, clientIp, prepareOperation, type WebSocketLimits } from './websocket-limits.ts';

/**
 * Close codes the server uses on GraphQL WebSockets (graphql-transport-ws protocol).
 * Documented in docs/api.md; clients reconnect with a fresh token on 4401.
 */
export const WS_CLOSE = {
  unauthenticated: 4401,
  forbidden: 4403,
  /** WS_MAX_CONNECTIONS_PER_USER or WS_MAX_CONNECTIONS_PER_IP reached; close another connection first. */
  tooManyConnections: 4429,
  shuttingDown: 1001,
} as const;

type Connection = {
  socket: WebSocket;
  /** Unique per connection (the request id may come from the client). */
  id: string;
  /** The upgrade request's id; each operation on the socket gets `<this>/<operation id>`. */
  requestId: string;
  principal: Principal | null;
  /** Client address (behind a trusted proxy, from X-Forwarded-For): connections not signed in count per address. */
  ip: string;
  expiryTimer?: NodeJS.Timeout;
  /** x-client-platform and x-client-version from connection_init, checked before each operation. */
  client: { platform: unknown; version: unknown };
};

function clientHeader(params: Record<string, unknown> | undefined, name: string): unknown {
  const headers = params?.headers as Record<string, unknown> | undefined;
  return params?.[name] ?? headers?.[name];
}

function tokenFrom(params: Record<string, unknown> | undefined): unknown {
  if (!params) return undefined;
  const headers = params.headers as Record<string, unknown> | undefined;
  const raw =
    params.authorization ?? params.Authorization ?? headers?.authorization ?? headers?.Authorization;
  if (raw !== undefined) return raw;
  return typeof params.token === 'string' ? `Bearer ${params.token}` : undefined;
}

function roleFrom(params: Record<string, unknown> | undefined): unknown {
  const headers = params?.headers as Record<string, unknown> | undefined;
  return params?.['x-hasura-role'] ?? headers?.['x-hasura-role'];
}

/** An authenticated connection was accepted, or one that was accepted closed (presence listens). */
export type ConnectionChange = { type: 'opened' | 'closed'; connectionId: string; userId: string };

/**
 * GraphQL subscriptions (and queries, mutations) over WebSocket on /graphql. Authentication happens
 * in `connection_init`; a connection is closed with 4401 when its token expires or its session is
 * signed out, with 4403 (reason `BANNED: …`) when its account is banned, with 4429 when its account or address has too many open, and with 1001 when the server
 * shuts down. Operations get the same depth and cost limits as over HTTP.
 */
export function attachGraphqlWebSocket(
  app: FastifyInstance,
  options: {
    services: Services;
    metrics: Metrics;
    logger: Logger;
    trustProxy: boolean;
    limits: WebSocketLimits;
    /** Told of every authenticated connection that opens and closes; must not throw. */
    onConnectionChange?: (change: ConnectionChange) => void;
  },
) {
  const { services, metrics, logger, limits } = options;
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes });
  const quota = new ConnectionQuota(limits);
  const schema = buildSchema();
  const connections = new Map<WebSocket, Connection>();
  let accepting = true;

  const close = (connection: Connection, code: number, reason: string) => {
    if (connection.expiryTimer) clearTimeout(connection.expiryTimer);
    connection.socket.close(code, reason);
  };

  app.server.on('upgrade', (request: IncomingMessage, socket, head) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path !== '/graphql') {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    if (!accepting) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const connection: Connection = {
      socket,
      id: randomUUID(),
      requestId: requestIdFrom(request.headers['x-request-id']),
      principal: null,
      ip: clientIp(request, options.trustProxy),
      client: { platform: undefined, version: undefined },
    };
    connections.set(socket, connection);
    metrics.websocketConnections.inc();
    socket.once('close', (code) => {
      const connection = connections.get(socket);
      if (connection?.expiryTimer) clearTimeout(connection.expiryTimer);
      quota.release(socket);
      connections.delete(socket);
      if (connection?.principal) {
        options.onConnectionChange?.({
          type: 'closed',
          connectionId: connection.id,
          userId: connection.principal.userId,
        });
      }
      metrics.websocketConnections.dec();
      metrics.websocketClosed.inc({ code: String(code) });
    });
    if (!quota.admitAnonymous(socket, connection.ip)) {
      close(connection, WS_CLOSE.tooManyConnections, 'Too many connections from this address');
    }
  });

  useServer(
    {
      schema,
      onConnect: async (ctx) => {
        const connection = connections.get(ctx.extra.socket);
        if (!connection) return false;
        try {
          const params = ctx.connectionParams as Record<string, unknown> | undefined;
          const principal = await services.authenticator.authenticate(tokenFrom(params), roleFrom(params));
          if (principal && !quota.admitUser(ctx.extra.socket, principal.userId)) {
            close(connection, WS_CLOSE.tooManyConnections, 'Too many connections for this account');
            return false;
          }
          connection.principal = principal;
          connection.client = {
            platform: clientHeader(params, 'x-client-platform'),
            version: clientHeader(params, 'x-client-version'),
          };
          if (principal) {
            const ms = principal.tokenExpiresAt.getTime() - services.clock.now().getTime();
            connection.expiryTimer = setTimeout(
              () => close(connection, WS_CLOSE.unauthenticated, 'Token expired'),
              Math.max(0, Math.min(ms, 2 ** 31 - 1)),
            );
            connection.expiryTimer.unref();
            // Only while the socket is still open: its close event has already run otherwise.
            if (connections.has(ctx.extra.socket)) {
              options.onConnectionChange?.({
                type: 'opened',
                connectionId: connection.id,
                userId: principal.userId,
              });
            }
          }
          return true;
        } catch (error) {
          const code =
            error instanceof AppError && (error.code === 'FORBIDDEN' || error.code === 'BANNED')
              ? WS_CLOSE.forbidden
              : WS_CLOSE.unauthenticated;
          // A close frame has no extensions: the reason starts with the code so clients can tell a ban.
          const reason =
            error instanceof AppError
              ? error.code === 'BANNED'
                ? `BANNED: ${String(error.details?.banReason ?? '')}`
                : error.message
              : 'Unauthorized';
          close(connection, code, reason.slice(0, 120));
          return false;
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        const prepared = prepareOperation(schema, payload, limits, Object.keys(ctx.subscriptions).length);
        if (!('document' in prepared)) return prepared;
        const client = connections.get(ctx.extra.socket)?.client;
        const refused = await services.settings.clientVersionError(
          client?.platform,
          client?.version,
          prepared.document,
        );
        return refused ? [new GraphQLError(refused.message, { originalError: refused })] : prepared;
      },
      context: (ctx, id): GraphQLContext => {
        const connection = connections.get(ctx.extra.socket);
        const request = ctx.extra.request;
        const requestId = `${connection?.requestId ?? requestIdFrom(undefined)}/${id}`;
        return {
          principal: connection?.principal ?? null,
          requestId,
          ip: connection?.ip ?? request.socket.remoteAddress ?? null,
          userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : null,
          services,
          log: logger.child({ reqId: requestId, transport: 'websocket' }),
        };
      },
      onOperation: async (_ctx, _id, _payload, args, pending) => {
        const result = await pending;
        const op = args.document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
        const label = {
          operation_type: op?.operation ?? 'unknown',
          operation_name: op?.name?.value ?? 'anonymous',
        };
        const outcome =
          Symbol.asyncIterator in result ? 'subscribed' : result.errors?.length ? 'error' : 'ok';
        metrics.graphqlOperations.inc({ ...label, outcome });
        return result;
      },
      onNext: (_ctx, _id, _payload, args, result) => {
        if (!result.errors) return;
        const context = args.contextValue as GraphQLContext;
        return {
          ...result,
          errors: result.errors.map((e) => formatError(e, context.log, context.requestId)),
        };
      },
      onError: (_ctx, _id, _payload, errors) =>
        errors.map((e: GraphQLError) => formatError(e, logger, 'websocket')),
    },
    wss,
  );

  return {
    connectionCount: () => connections.size,
    /** Closes this node's sockets of sessions that were signed out (on any node). */
    closeSessions(sessionIds: readonly string[]): void {
      const revoked = new Set(sessionIds);
      for (const connection of connections.values()) {
        if (connection.principal?.sessionId && revoked.has(connection.principal.sessionId)) {
          close(connection, WS_CLOSE.unauthenticated, 'Session signed out');
        }
      }
    },
    /** Closes this node's sockets of these users (banned on any node) with 4403. */
    closeUsers(userIds: readonly string[], reason: string): void {
      const banned = new Set(userIds);
      for (const connection of connections.values()) {
        if (connection.principal && banned.has(connection.principal.userId)) {
          close(connection, WS_CLOSE.forbidden, reason.slice(0, 120));
        }
      }
    },
    /** Stops new upgrades and closes every socket with 1001 so clients reconnect elsewhere. */
    async shutdown(): Promise<void> {
      accepting = false;
      for (const connection of connections.values())
        close(connection, WS_CLOSE.shuttingDown, 'Server shutting down');
      // Peers get a moment to answer the close handshake; silent ones are cut off.
      const cutOff = setTimeout(() => {
        for (const socket of wss.clients) socket.terminate();
      }, 2_000);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      clearTimeout(cutOff);
    },
  };
}
