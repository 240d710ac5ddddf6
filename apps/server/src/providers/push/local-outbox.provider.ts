import type { PushMessage, PushProvider, PushTarget } from './push.provider.ts';

export type OutboxEntry = { target: PushTarget; message: PushMessage };

/**
 * The default provider: nothing leaves the machine; each push is recorded (the notification domain's
 * outbox table) where admins can see it. Exactly once: the caller records it with the send's result.
 */
export function createLocalOutboxProvider(record: (entry: OutboxEntry) => Promise<string>): PushProvider {
  return {
    name: 'local',
    send: async (target, message) => ({ outcome: 'sent', providerId: await record({ target, message }) }),
    redelivery: () => 'at_least_once',
  };
}
