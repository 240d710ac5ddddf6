import { describe, expect, it } from 'vitest';
import {
  CALL_STATES,
  type CallAction,
  type CallState,
  END_REASONS,
  hangUpAction,
  IllegalTransition,
  transition,
} from './call-state.ts';

const ACTIONS: CallAction[] = [
  { type: 'ring' },
  { type: 'accept' },
  { type: 'prepare' },
  { type: 'both_joined' },
  { type: 'decline' },
  { type: 'cancel' },
  { type: 'hangup', by: 'caller' },
  { type: 'timeout' },
  { type: 'terminate', reason: 'blocked' },
];

// The whole table, written out: state → action → resulting "state/reason", or absent when illegal.
const LEGAL: Record<CallState, Partial<Record<CallAction['type'], string>>> = {
  requested: {
    ring: 'ringing',
    accept: 'accepted',
    decline: 'ended/declined',
    cancel: 'ended/cancelled',
    timeout: 'ended/missed',
    terminate: 'ended/blocked',
  },
  ringing: {
    accept: 'accepted',
    decline: 'ended/declined',
    cancel: 'ended/cancelled',
    timeout: 'ended/missed',
    terminate: 'ended/blocked',
  },
  accepted: {
    prepare: 'connecting',
    hangup: 'ended/hangup',
    timeout: 'ended/media_failed',
    terminate: 'ended/blocked',
  },
  connecting: {
    both_joined: 'connected',
    hangup: 'ended/hangup',
    timeout: 'ended/media_failed',
    terminate: 'ended/blocked',
  },
  connected: { hangup: 'ended/hangup', timeout: 'ended/disconnected', terminate: 'ended/blocked' },
  ended: {},
};

describe('the call state machine', () => {
  it('accepts exactly the transitions of the table and refuses every other one', () => {
    for (const state of CALL_STATES) {
      for (const action of ACTIONS) {
        const expected = LEGAL[state][action.type];
        if (expected === undefined) {
          expect(() => transition(state, action), `${state} + ${action.type}`).toThrow(IllegalTransition);
        } else {
          const next = transition(state, action);
          expect(next.reason ? `${next.state}/${next.reason}` : next.state, `${state} + ${action.type}`).toBe(
            expected,
          );
        }
      }
    }
  });

  it('reaches every end reason but busy (a call that never rang) from a live state', () => {
    const reached = new Set<string>();
    const terminations = ['insufficient_funds', 'blocked', 'banned', 'staff', 'error'] as const;
    for (const state of CALL_STATES.filter((s) => s !== 'ended')) {
      for (const action of [
        ...ACTIONS,
        ...terminations.map((reason) => ({ type: 'terminate' as const, reason })),
      ]) {
        try {
          const next = transition(state, action);
          if (next.reason) reached.add(next.reason);
        } catch (error) {
          expect(error).toBeInstanceOf(IllegalTransition);
        }
      }
    }
    expect([...reached].sort()).toEqual(END_REASONS.filter((r) => r !== 'busy').sort());
  });

  it('maps a hang-up to cancel, decline or hang-up by state and side', () => {
    expect(hangUpAction('requested', 'caller')).toEqual({ type: 'cancel' });
    expect(hangUpAction('ringing', 'callee')).toEqual({ type: 'decline' });
    expect(hangUpAction('connecting', 'callee')).toEqual({ type: 'hangup', by: 'callee' });
    expect(hangUpAction('connected', 'caller')).toEqual({ type: 'hangup', by: 'caller' });
  });
});
