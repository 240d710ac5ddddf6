import { Logger as GraphileLogger, type LogLevel } from 'graphile-worker';
import type { Logger } from '../../platform/observability/logger.ts';

type LogMeta = { [key: string]: unknown };
type JobMeta = { id?: unknown; task_identifier?: unknown; attempts?: unknown; max_attempts?: unknown };

/** Only what identifies a job: its payload may hold personal data and never goes to the log. */
function describeMeta(meta: LogMeta): Record<string, unknown> {
  const described: Record<string, unknown> = {};
  const job = meta.job as JobMeta | undefined;
  if (job && typeof job === 'object') {
    described.job = {
      id: job.id,
      task: job.task_identifier,
      attempt: job.attempts,
      maxAttempts: job.max_attempts,
    };
  }
  if (meta.error !== undefined) described.err = meta.error;
  return described;
}

/**
 * graphile-worker's Logger writing to our pino logger. Its `info` lines (one per completed job,
 * "worker connected") go to debug so a busy queue does not flood the log; a failed attempt is a
 * warning because it is retried, and our job runner logs the final outcome itself.
 */
export function graphileLogger(logger: Logger): GraphileLogger {
  const log = logger.child({ component: 'jobs' });
  return new GraphileLogger((scope) => (level: LogLevel, message: string, meta: LogMeta = {}) => {
    const label = (scope as { label?: unknown }).label;
    const fields = { ...describeMeta(meta), ...(typeof label === 'string' ? { scope: label } : {}) };
    if (level === 'error') {
      if (meta.failure === true) log.warn(fields, message);
      else log.error(fields, message);
    } else if (level === 'warning') log.warn(fields, message);
    else if (level === 'info') log.debug(fields, message);
    else log.trace(fields, message);
  });
}
