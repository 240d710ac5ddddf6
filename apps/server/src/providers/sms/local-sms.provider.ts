import type { Logger } from '../../platform/observability/logger.ts';
import type { SmsProvider } from './sms.provider.ts';

/**
 * Delivers nothing: records each message through `record` (the user domain's SMS outbox table)
 * and logs it, so that developers and tests can read sign-in codes.
 */
export function createLocalSmsProvider(
  record: (message: { to: string; body: string; provider: string }) => Promise<void>,
  logger: Logger,
): SmsProvider {
  return {
    name: 'local',
    async send(message) {
      await record({ ...message, provider: 'local' });
      logger.info({ sms: { to: message.to, body: message.body } }, 'local SMS provider: message recorded');
    },
  };
}
