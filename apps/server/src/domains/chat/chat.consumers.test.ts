import { describe, expect, it } from 'vitest';
import { callSummary } from './chat.consumers.ts';

describe('callSummary', () => {
  it('shows the duration of a connected call and the outcome of one that never connected', () => {
    const call = { kind: 'direct', reason: 'hangup', connected: true, durationSeconds: 125 } as const;
    expect(callSummary(call)).toBe('Video call · 2:05');
    expect(callSummary({ ...call, kind: 'roulette', durationSeconds: 9 })).toBe('Roulette call · 0:09');
    expect(callSummary({ ...call, durationSeconds: 3600 })).toBe('Video call · 60:00');
    const missed = { ...call, connected: false, durationSeconds: 0 };
    expect(callSummary({ ...missed, reason: 'declined' })).toBe('Video call declined');
    expect(callSummary({ ...missed, reason: 'cancelled' })).toBe('Video call cancelled');
    expect(callSummary({ ...missed, reason: 'missed' })).toBe('Missed video call');
    expect(callSummary({ ...missed, reason: 'busy' })).toBe('Missed video call');
    expect(callSummary({ ...missed, kind: 'roulette', reason: 'media_failed' })).toBe(
      'Roulette call did not connect',
    );
  });
});
