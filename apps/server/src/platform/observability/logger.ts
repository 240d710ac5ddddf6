import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import type { Config } from '../config/config.ts';

/** Paths never written to logs: tokens, passwords, codes. */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.refreshToken',
  '*.accessToken',
  'variables.password',
  'variables.code',
  'variables.refreshToken',
];

export function loggerOptions(config: Pick<Config, 'logLevel' | 'env'>) {
  return {
    level: config.logLevel,
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { service: 'olo-server' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

export function createLogger(config: Pick<Config, 'logLevel' | 'env'>) {
  return pino(loggerOptions(config));
}

/** What services log through: the Fastify request logger or the root pino logger. */
export type Logger = FastifyBaseLogger;
