import { describe, expect, it } from 'vitest';
import type { PushTarget } from '../../providers/push/push.provider.ts';
import {
  type KindDefinition,
  NOTIFICATION_KIND_NAMES,
  NOTIFICATION_KINDS,
  renderTemplate,
} from './notification-kinds.ts';
import { selectTargets } from './push-targets.ts';

const token = (kind: PushTarget['kind']): PushTarget => ({
  tokenId: kind,
  userId: 'u',
  kind,
  platform: kind.startsWith('apns') ? 'ios' : kind === 'webpush' ? 'web' : 'android',
  token: `${kind}-token`,
});

describe('the notification catalogue', () => {
  it('renders templates in the account locale, falling back to English', () => {
    expect(renderTemplate('missed_call', 'ru', { callerName: 'Ana', callId: 'c' })).toEqual({
      title: 'Пропущенный звонок',
      body: 'Пропущенный звонок от Ana',
    });
    expect(renderTemplate('missed_call', 'pt', { callerName: 'Ana', callId: 'c' }).title).toBe('Missed call');
    expect(() => renderTemplate('gift_received', 'en', {})).toThrow(/coins is missing/);
  });

  it('has every template in every locale using only declared variables', () => {
    for (const kind of NOTIFICATION_KIND_NAMES) {
      const definition = NOTIFICATION_KINDS[kind];
      for (const template of Object.values(definition.templates)) {
        const used = [...`${template.title} ${template.body}`.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]);
        expect(
          used.filter((name) => !(definition.variables as readonly string[]).includes(name ?? '')),
        ).toEqual([]);
      }
    }
  });

  it('calls and money messages cannot be muted; only calls use VoIP', () => {
    const unmutable = NOTIFICATION_KIND_NAMES.filter((k) => !NOTIFICATION_KINDS[k].mutable).sort();
    expect(unmutable).toEqual([
      'balance_running_low',
      'call_cancelled',
      'call_cut_off',
      'incoming_call',
      'kyc_reviewed',
      'payout_requested',
      'payout_status_changed',
      'purchase_completed',
      'purchase_refunded',
    ]);
    expect(NOTIFICATION_KIND_NAMES.filter((k) => 'call' in NOTIFICATION_KINDS[k])).toEqual(['incoming_call']);
  });
});

describe('push targets', () => {
  const all = (['fcm', 'onesignal', 'apns', 'apns_voip', 'webpush'] as const).map(token);

  it('sends a call to the VoIP token instead of the alert token, and everything else never to VoIP', () => {
    expect(selectTargets(NOTIFICATION_KINDS.incoming_call, all).map((t) => t.kind)).toEqual([
      'fcm',
      'onesignal',
      'apns_voip',
      'webpush',
    ]);
    expect(
      selectTargets(NOTIFICATION_KINDS.call_cancelled as KindDefinition, all).map((t) => t.kind),
    ).toEqual(['fcm', 'onesignal', 'apns', 'webpush']);
    // An iPhone without a VoIP token still hears of the call through its alert token.
    expect(selectTargets(NOTIFICATION_KINDS.incoming_call, [token('apns')]).map((t) => t.kind)).toEqual([
      'apns',
    ]);
  });
});
