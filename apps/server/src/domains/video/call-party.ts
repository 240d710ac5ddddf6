import type { CallSide } from '../../providers/video/video.provider.ts';
import type { CallRecord } from './call.repository.ts';

/** What the calls domain needs to know about an account (composed from the user and profile domains). */
export type CallParty = {
  id: string;
  roles: readonly string[];
  status: string;
  displayName: string | null;
};
export type CallParties = { describe(userId: string): Promise<CallParty | undefined> };

/** Whether two accounts blocked each other, in either direction (the blocklist domain answers it). */
export type BlockCheck = (a: string, b: string) => Promise<boolean>;
export const noBlocks: BlockCheck = async () => false;

export const sideOf = (call: Pick<CallRecord, 'callerId' | 'calleeId'>, userId: string): CallSide | null =>
  call.callerId === userId ? 'caller' : call.calleeId === userId ? 'callee' : null;

export const otherSide = (side: CallSide): CallSide => (side === 'caller' ? 'callee' : 'caller');

/** Connected seconds of a call (0 when it never connected). */
export function connectedSeconds(call: Pick<CallRecord, 'connectedAt' | 'endedAt'>, now: Date): number {
  if (!call.connectedAt) return 0;
  const end = call.endedAt ?? now;
  return Math.max(0, Math.floor((end.getTime() - call.connectedAt.getTime()) / 1000));
}

/** Realtime messages on an account's calls channel. JSON only: they cross nodes through pubsub. */
export type CallChannelMessage =
  | { type: 'call'; callId: string; version: number }
  | { type: 'signal'; callId: string; from: CallSide; kind: string; payload: string };

export const callChannel = (userId: string) => `calls:${userId}`;
