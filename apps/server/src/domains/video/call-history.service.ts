import { z } from 'zod';
import type { Tx } from '../../platform/db/transaction.ts';
import { badInput, notFound } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import type { AuditActor, AuditLog } from '../mission_control/audit-log.ts';
import type { CallCursor, CallFilter, CallRecord, CallRepository } from './call.repository.ts';
import type { CallService } from './call.service.ts';
import type { CallEngine } from './call-engine.ts';
import { isLive } from './call-state.ts';

export type CallPage = { items: CallRecord[]; nextCursor: string | null };

const firstSchema = z.number().int().min(1).max(100);
const noteSchema = z.string().trim().min(1, 'reason must not be empty').max(500);

export const encodeCursor = (call: CallRecord) =>
  Buffer.from(`${call.requestedAt.toISOString()}|${call.id}`).toString('base64url');

function decodeCursor(cursor: string): CallCursor {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const requestedAt = new Date(at ?? '');
  if (!id || Number.isNaN(requestedAt.getTime()))
    throw badInput('after must be a cursor from a previous page');
  return { requestedAt, id };
}

/** Call records for their sides and for staff, and the staff actions on calls (audited). */
export class CallHistoryService {
  private readonly deps: { repo: CallRepository; engine: CallEngine; calls: CallService; audit: AuditLog };

  constructor(deps: CallHistoryService['deps']) {
    this.deps = deps;
  }

  async list(filter: CallFilter, first: number, after?: string | null): Promise<CallPage> {
    const limit = parseOrThrow(firstSchema, first, 'first');
    const items = await this.deps.repo.list(filter, limit + 1, after ? decodeCursor(after) : undefined);
    const shown = items.slice(0, limit);
    const last = shown.at(-1);
    return { items: shown, nextCursor: items.length > limit && last ? encodeCursor(last) : null };
  }

  async transitions(callId: string) {
    return this.deps.repo.transitions(callId);
  }

  /** A moderator ends a live call, with a reason, audited in the same transaction. */
  async endAsStaff(actor: AuditActor, callId: string, reason: string): Promise<CallRecord> {
    const note = parseOrThrow(noteSchema, reason, 'reason');
    return this.deps.engine.change(async (tx: Tx, after) => {
      const call = await this.deps.repo.lock(tx, callId);
      if (!call) throw notFound('Call');
      if (!isLive(call.state)) return call;
      const ended = await this.deps.engine.apply(
        tx,
        after,
        call,
        { type: 'terminate', reason: 'staff' },
        { end_note: note },
        'staff',
      );
      await this.deps.audit.record(tx, actor, {
        action: 'video.call_ended',
        targetType: 'call',
        targetId: callId,
        before: { state: call.state },
        after: { state: ended.state, endReason: ended.endReason },
        reason: note,
      });
      return ended;
    });
  }
}
