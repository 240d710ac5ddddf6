import type { Principal } from '../../platform/auth/principal.ts';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { badInput, conflict, notFound } from '../../platform/errors/app-error.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { MediaService } from '../media/media.service.ts';
import type { AuditActor, AuditLog } from '../mission_control/audit-log.ts';
import { kycReviewed } from './kyc.events.ts';
import type { KycRepository, KycReview, KycSubmission } from './kyc.repository.ts';
import type { KycDecision } from './kyc.tables.ts';

const isUniqueViolation = (error: unknown) => (error as { code?: unknown })?.code === '23505';

/**
 * Identity checks of streamers. A submission (documents + selfie, uploaded as private kyc_document media)
 * waits as `pending` until a moderator approves it, asks for a resubmission or rejects it. A rejection is
 * final for the account (support can still reverse it by hand); a resubmission request lets the
 * streamer submit again. Every review stays in `kyc.reviews`.
 */
export class KycService {
  private readonly deps: {
    db: Db;
    repo: KycRepository;
    media: MediaService;
    audit: AuditLog;
    eventLog: EventLog;
    clock: Clock;
  };

  constructor(deps: KycService['deps']) {
    this.deps = deps;
  }

  /** Whether the account passed the identity check (payouts ask this). */
  async isApproved(userId: string): Promise<boolean> {
    return this.deps.repo.hasApproved(userId);
  }

  async latestFor(userId: string): Promise<KycSubmission | undefined> {
    return this.deps.repo.latestFor(userId);
  }

  async historyOf(userId: string): Promise<KycSubmission[]> {
    return this.deps.repo.listFor(userId);
  }

  async reviewsOf(submissionIds: readonly string[]): Promise<KycReview[]> {
    return this.deps.repo.reviewsOf(submissionIds);
  }

  /**
   * The KYC part of the account's data export: every submission with its decisions, oldest review
   * first. Reviewers are named by role only: staff ids are not the account's data.
   */
  async exportFor(userId: string): Promise<Array<Record<string, unknown>>> {
    const submissions = await this.deps.repo.listFor(userId);
    const reviews = await this.deps.repo.reviewsOf(submissions.map((s) => s.id));
    return submissions.map((s) => ({
      id: s.id,
      documentIds: s.documentIds,
      selfieId: s.selfieId,
      status: s.status,
      reason: s.reason,
      reviewedAt: s.reviewedAt?.toISOString() ?? null,
      createdAt: s.createdAt.toISOString(),
      reviews: reviews
        .filter((r) => r.submissionId === s.id)
        .map((r) => ({
          decision: r.decision,
          reason: r.reason,
          reviewerRole: r.reviewerRole,
          at: r.createdAt.toISOString(),
        })),
    }));
  }

  async submit(userId: string, documentIds: string[], selfieId: string): Promise<KycSubmission> {
    const documents = [...new Set(documentIds)];
    if (documents.includes(selfieId)) {
      throw badInput('The selfie must be a separate upload from the documents', { field: 'selfieId' });
    }
    await this.deps.media.requireOwned(userId, documents, 'kyc_document', 'documentIds');
    await this.deps.media.requireOwned(userId, [selfieId], 'kyc_document', 'selfieId');
    const latest = await this.deps.repo.latestFor(userId);
    if (latest?.status === 'pending') throw conflict('A submission is already waiting for review');
    if (latest?.status === 'approved') throw conflict('Your identity is already verified');
    if (latest?.status === 'rejected') throw conflict('Your identity check was rejected; contact support');
    try {
      return await this.deps.repo.insert(this.deps.db, { userId, documentIds: documents, selfieId });
    } catch (error) {
      // Two submissions at once: the partial unique index lets one through.
      if (isUniqueViolation(error)) throw conflict('A submission is already waiting for review');
      throw error;
    }
  }

  async queue(limit: number, after: bigint | undefined): Promise<KycSubmission[]> {
    return this.deps.repo.listPending(limit, after);
  }

  /** Decides on a pending submission; the decision, its history row, audit entry and event commit together. */
  async review(
    actor: AuditActor & { principal: Principal },
    submissionId: string,
    decision: KycDecision,
    reason: string | null,
  ): Promise<KycSubmission> {
    if (decision !== 'approved' && !reason) {
      throw badInput('A rejection or resubmission request needs a reason', { field: 'reason' });
    }
    return withTransaction(this.deps.db, async (tx) => {
      const submission = await this.deps.repo.lock(tx, submissionId);
      if (!submission) throw notFound('KYC submission');
      if (submission.status !== 'pending')
        throw conflict(`The submission was already reviewed (${submission.status})`);
      const at = this.deps.clock.now();
      const updated = await this.deps.repo.setReview(tx, submissionId, {
        status: decision,
        reason,
        reviewerId: actor.principal.userId,
        at,
      });
      await this.deps.repo.insertReview(tx, {
        submissionId,
        reviewerId: actor.principal.userId,
        reviewerRole: actor.principal.role,
        decision,
        reason,
        at,
      });
      await this.deps.audit.record(tx, actor, {
        action: `kyc.${decision}`,
        targetType: 'kyc_submission',
        targetId: submissionId,
        before: { status: submission.status, userId: submission.userId },
        after: { status: decision, userId: submission.userId },
        reason,
      });
      await this.deps.eventLog.emit(
        tx,
        kycReviewed.event(
          { submissionId, userId: submission.userId, decision, reason },
          { userId: submission.userId },
        ),
      );
      return updated;
    });
  }
}
