import type { CallSide } from '../../providers/video/video.provider.ts';

/**
 * The direct-call state machine, as pure functions: the service stores the state in Postgres and
 * applies these rules under the call's row lock, with the server's clock deciding time-outs.
 *
 *   requested → ringing → accepted → connecting → connected → ended
 *
 * `requested`: the callee has been told (subscription, push). `ringing`: the callee's device says it
 * is ringing. `accepted`: the callee answered; `connecting`: a provider room was chosen and both sides
 * may fetch credentials; `connected`: both joined (billing runs). `ended` is final.
 */
export const CALL_STATES = ['requested', 'ringing', 'accepted', 'connecting', 'connected', 'ended'] as const;
export type CallState = (typeof CALL_STATES)[number];
export type LiveCallState = Exclude<CallState, 'ended'>;

export const END_REASONS = [
  'cancelled',
  'declined',
  'busy',
  'missed',
  'media_failed',
  'hangup',
  'disconnected',
  'insufficient_funds',
  'blocked',
  'banned',
  'staff',
  'error',
] as const;
export type EndReason = (typeof END_REASONS)[number];

/** Who ended a call: a side, the server (time-outs, billing, bans), or a moderator. */
export type EndedBy = CallSide | 'system' | 'staff';

/** Reasons the server or staff impose on a live call whatever its state. */
export type Termination = 'insufficient_funds' | 'blocked' | 'banned' | 'staff' | 'error';

export type CallAction =
  | { type: 'ring' }
  | { type: 'accept' }
  | { type: 'prepare' }
  | { type: 'both_joined' }
  | { type: 'decline' }
  | { type: 'cancel' }
  | { type: 'hangup'; by: CallSide }
  | { type: 'timeout' }
  | { type: 'terminate'; reason: Termination };

export type Transition = { state: CallState; reason: EndReason | null };

export class IllegalTransition extends Error {
  readonly from: CallState;
  readonly action: CallAction['type'];
  constructor(from: CallState, action: CallAction['type']) {
    super(`A call that is ${from} cannot ${action}`);
    this.name = 'IllegalTransition';
    this.from = from;
    this.action = action;
  }
}

const BEFORE_ANSWER: readonly CallState[] = ['requested', 'ringing'];
const SETTING_UP: readonly CallState[] = ['accepted', 'connecting'];

const ended = (reason: EndReason): Transition => ({ state: 'ended', reason });

/** The state after `action`, or IllegalTransition. Ending reasons follow from the state. */
export function transition(from: CallState, action: CallAction): Transition {
  const illegal = () => new IllegalTransition(from, action.type);
  if (from === 'ended') throw illegal();
  switch (action.type) {
    case 'ring':
      if (from !== 'requested') throw illegal();
      return { state: 'ringing', reason: null };
    case 'accept':
      if (!BEFORE_ANSWER.includes(from)) throw illegal();
      return { state: 'accepted', reason: null };
    case 'prepare':
      if (from !== 'accepted') throw illegal();
      return { state: 'connecting', reason: null };
    case 'both_joined':
      if (from !== 'connecting') throw illegal();
      return { state: 'connected', reason: null };
    case 'decline':
      if (!BEFORE_ANSWER.includes(from)) throw illegal();
      return ended('declined');
    case 'cancel':
      if (!BEFORE_ANSWER.includes(from)) throw illegal();
      return ended('cancelled');
    case 'hangup':
      if (BEFORE_ANSWER.includes(from)) throw illegal();
      return ended('hangup');
    case 'timeout':
      // Ring time-out, connecting time-out, and a connected side gone past the reconnect grace.
      if (BEFORE_ANSWER.includes(from)) return ended('missed');
      if (SETTING_UP.includes(from)) return ended('media_failed');
      return ended('disconnected');
    case 'terminate':
      return ended(action.reason);
  }
}

/**
 * What "hang up" means for a side in a state: before the answer the caller cancels and the callee
 * declines; afterwards either side hangs up.
 */
export function hangUpAction(state: CallState, side: CallSide): CallAction {
  if (BEFORE_ANSWER.includes(state)) return side === 'caller' ? { type: 'cancel' } : { type: 'decline' };
  return { type: 'hangup', by: side };
}

export const isLive = (state: CallState): state is LiveCallState => state !== 'ended';
