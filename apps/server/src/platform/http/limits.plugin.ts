import helmet from '@fastify/helmet';
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.ts';

export type HttpLimitOptions = {
  rateLimitPerIpPerMinute: number;
  rateLimitPerUserPerMinute: number;
  /** Counters in Redis are shared by every process; without it each process counts alone. */
  redisUrl: string | undefined;
  production: boolean;
  logger: Logger;
};

/** Load balancers and Prometheus call these all the time; a limited client must not make a node look dead. */
const UNLIMITED_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

const RATE_LIMIT_WINDOW_MS = 60_000;

/** The API answers JSON only: nothing on it may load, embed or frame anything. */
const API_CSP = {
  defaultSrc: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
};

/** Mercurius's GraphiQL page loads React and GraphiQL from unpkg and styles itself inline. */
const GRAPHIQL_CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'", 'https://unpkg.com'],
  styleSrc: ["'self'", "'unsafe-inline'", 'https://unpkg.com'],
  fontSrc: ["'self'", 'data:', 'https://unpkg.com'],
  imgSrc: ["'self'", 'data:', 'https://unpkg.com'],
  connectSrc: ["'self'", 'https://unpkg.com'],
  workerSrc: ["'self'"],
  objectSrc: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
};

const isGraphiql = (url: string) => url === '/graphiql' || url.startsWith('/graphiql/');

/**
 * Key of the request's counter: the account when the request is signed in (set by the auth preHandler
 * of /graphql, which runs before the route-level limiter), else the client IP (an IPv6 /64 as one).
 */
function rateLimitKey(request: FastifyRequest): string {
  return request.principal ? `user:${request.principal.userId}` : `ip:${normalizeIP(request.ip)}`;
}

async function connectRedis(url: string, logger: Logger): Promise<Redis> {
  // No offline queue: while Redis is away a request must not wait for it; counting fails open instead.
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 1_000,
  });
  redis.on('error', (error) => logger.warn({ err: error }, 'rate limits: Redis connection error'));
  try {
    await redis.connect();
  } catch (error) {
    logger.warn({ err: error }, 'rate limits: Redis unreachable; requests are not limited until it is back');
  }
  return redis;
}

/**
 * Rate limits (per account, else per IP, per minute) and security headers on every HTTP route registered
 * after this. Register it before the routes: the limiter attaches itself to each route as it is added.
 */
export async function registerHttpLimits(app: FastifyInstance, options: HttpLimitOptions): Promise<void> {
  const redis = options.redisUrl ? await connectRedis(options.redisUrl, options.logger) : undefined;
  if (redis) app.addHook('onClose', async () => redis.disconnect());

  await app.register(rateLimit, {
    // Attached by hand below, so that it runs after authentication and answers in the API's own shapes.
    global: false,
    timeWindow: RATE_LIMIT_WINDOW_MS,
    keyGenerator: rateLimitKey,
    max: (_request, key) =>
      key.startsWith('user:') ? options.rateLimitPerUserPerMinute : options.rateLimitPerIpPerMinute,
    skipOnError: true,
    ...(redis ? { redis, nameSpace: 'olo:rate-limit:' } : {}),
  });
  const check = app.createRateLimit();

  const limit = async (request: FastifyRequest, reply: FastifyReply) => {
    const result = await check(request);
    if (result.isAllowed) return;
    reply.header('x-ratelimit-limit', result.max);
    reply.header('x-ratelimit-remaining', result.remaining);
    reply.header('x-ratelimit-reset', result.ttlInSeconds);
    if (!result.isExceeded) return;
    const retryAfterSeconds = Math.max(1, result.ttlInSeconds);
    const message = `Too many requests; try again in ${retryAfterSeconds} s`;
    const extensions = { code: 'RATE_LIMITED', retryAfterSeconds };
    reply.code(429).header('retry-after', retryAfterSeconds);
    if (request.routeOptions.url === '/graphql') {
      return reply.send({ data: null, errors: [{ message, extensions }] });
    }
    return reply.send({ error: { ...extensions, message, requestId: request.id } });
  };

  // Without a token the key is the address, known before the body is read: an abusive client's bodies
  // are not even parsed. With one, the limiter waits for the auth preHandler (route-level preHandlers
  // run after the application's) to know the account.
  const anonymous = async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.headers.authorization === undefined) return limit(request, reply);
  };
  const signedIn = async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.headers.authorization !== undefined) return limit(request, reply);
  };
  app.addHook('onRoute', (route: RouteOptions) => {
    if (UNLIMITED_ROUTES.has(route.url)) return;
    route.onRequest = [...[route.onRequest ?? []].flat(), anonymous];
    route.preHandler = [...[route.preHandler ?? []].flat(), signedIn];
    if (isGraphiql(route.url)) {
      route.helmet = { contentSecurityPolicy: { useDefaults: false, directives: GRAPHIQL_CSP } };
    }
  });

  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: API_CSP },
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // Browsers only honour HSTS over HTTPS, which production has (TLS ends at the proxy in front).
    strictTransportSecurity: options.production ? { maxAge: 31_536_000, includeSubDomains: true } : false,
  });
}
