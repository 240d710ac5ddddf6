import type { PushTarget } from '../../providers/push/push.provider.ts';
import type { KindDefinition } from './notification-kinds.ts';

/**
 * Which of an account's devices a push goes to. VoIP tokens are for calls only (Apple ends apps that
 * get VoIP pushes without reporting a call); a call reaches an iPhone through its VoIP token, so the
 * alert token of an account that has one is skipped for calls. Every other token gets every push.
 */
export function selectTargets(
  definition: Pick<KindDefinition, 'call'>,
  tokens: readonly PushTarget[],
): PushTarget[] {
  if (!definition.call) return tokens.filter((t) => t.kind !== 'apns_voip');
  const hasVoip = tokens.some((t) => t.kind === 'apns_voip');
  return tokens.filter((t) => !(hasVoip && t.kind === 'apns'));
}
