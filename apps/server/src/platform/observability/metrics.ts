import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type PoolStats = { totalCount: number; idleCount: number; waitingCount: number };

/** One registry per server instance, so tests can start several servers in one process. */
export function createMetrics() {
  const registry = new Registry();
  let poolSource: (() => PoolStats) | undefined;
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    observePool(source: () => PoolStats) {
      poolSource = source;
    },
    httpRequestDuration: new Histogram({
      name: 'olo_http_request_duration_seconds',
      help: 'HTTP request duration by method, route and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    graphqlOperations: new Counter({
      name: 'olo_graphql_operations_total',
      help: 'GraphQL operations by type, name and outcome',
      labelNames: ['operation_type', 'operation_name', 'outcome'] as const,
      registers: [registry],
    }),
    graphqlDuration: new Histogram({
      name: 'olo_graphql_operation_duration_seconds',
      help: 'GraphQL operation duration by type and name',
      labelNames: ['operation_type', 'operation_name'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    dbPool: new Gauge({
      name: 'olo_db_pool_connections',
      help: 'Database pool connections by state',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        const stats = poolSource?.();
        if (!stats) return;
        this.set({ state: 'total' }, stats.totalCount);
        this.set({ state: 'idle' }, stats.idleCount);
        this.set({ state: 'waiting' }, stats.waitingCount);
      },
    }),
    websocketConnections: new Gauge({
      name: 'olo_websocket_connections',
      help: 'Open GraphQL WebSocket connections',
      registers: [registry],
    }),
    websocketClosed: new Counter({
      name: 'olo_websocket_closed_total',
      help: 'Closed GraphQL WebSocket connections by close code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
