import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { type MigrationFile, migrationsUpToDate } from '../db/migrator.ts';
import type { Metrics } from '../observability/metrics.ts';

/** Liveness, readiness and metrics: what a load balancer and Prometheus scrape. */
export function registerHealthRoutes(
  app: FastifyInstance,
  options: { pool: pg.Pool; migrations: MigrationFile[]; metrics: Metrics; isShuttingDown: () => boolean },
) {
  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));

  app.get('/readyz', { logLevel: 'warn' }, async (_request, reply) => {
    if (options.isShuttingDown()) return reply.code(503).send({ status: 'shutting_down' });
    let database = false;
    try {
      await options.pool.query('select 1');
      database = true;
    } catch {
      database = false;
    }
    const migrations = database && (await migrationsUpToDate(options.pool, options.migrations));
    const ready = database && migrations;
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not_ready', database, migrations });
  });

  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    reply.header('content-type', options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });
}
