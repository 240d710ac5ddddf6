import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { KycDecision, KycStatus } from './kyc.tables.ts';

type Executor = Db | Tx;

export type KycSubmission = {
  id: string;
  seq: bigint;
  userId: string;
  documentIds: string[];
  /** Null once the account was deleted and its documents erased. */
  selfieId: string | null;
  status: KycStatus;
  reason: string | null;
  reviewedBy: string | null;
  reviewedAt: Date | null;
  createdAt: Date;
};

export type KycReview = {
  id: bigint;
  submissionId: string;
  reviewerId: string;
  reviewerRole: string;
  decision: KycDecision;
  reason: string | null;
  createdAt: Date;
};

const COLUMNS = [
  'id',
  'seq',
  'user_id',
  'document_ids',
  'selfie_id',
  'status',
  'reason',
  'reviewed_by',
  'reviewed_at',
  'created_at',
] as const;

const toSubmission = (r: {
  id: string;
  seq: bigint;
  user_id: string;
  document_ids: string[];
  selfie_id: string | null;
  status: KycStatus;
  reason: string | null;
  reviewed_by: string | null;
  reviewed_at: Date | null;
  created_at: Date;
}): KycSubmission => ({
  id: r.id,
  seq: r.seq,
  userId: r.user_id,
  documentIds: r.document_ids,
  selfieId: r.selfie_id,
  status: r.status,
  reason: r.reason,
  reviewedBy: r.reviewed_by,
  reviewedAt: r.reviewed_at,
  createdAt: r.created_at,
});

/** The only code that reads or writes the `kyc` schema. */
export class KycRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async insert(ex: Executor, input: { userId: string; documentIds: string[]; selfieId: string }) {
    const row = await ex
      .insertInto('kyc.submissions')
      .values({ user_id: input.userId, document_ids: input.documentIds, selfie_id: input.selfieId })
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    return toSubmission(row);
  }

  async latestFor(userId: string, ex: Executor = this.db): Promise<KycSubmission | undefined> {
    const row = await ex
      .selectFrom('kyc.submissions')
      .select(COLUMNS)
      .where('user_id', '=', userId)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && toSubmission(row);
  }

  async hasApproved(userId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('kyc.submissions')
      .select('id')
      .where('user_id', '=', userId)
      .where('status', '=', 'approved')
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  async lock(tx: Tx, id: string): Promise<KycSubmission | undefined> {
    const row = await tx
      .selectFrom('kyc.submissions')
      .select(COLUMNS)
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    return row && toSubmission(row);
  }

  /** Pending submissions, oldest first; `after` is a seq. */
  async listPending(limit: number, after: bigint | undefined): Promise<KycSubmission[]> {
    let query = this.db
      .selectFrom('kyc.submissions')
      .select(COLUMNS)
      .where('status', '=', 'pending')
      .where('erased_at', 'is', null);
    if (after !== undefined) query = query.where('seq', '>', after);
    const rows = await query.orderBy('seq', 'asc').limit(limit).execute();
    return rows.map(toSubmission);
  }

  async setReview(
    tx: Tx,
    id: string,
    input: { status: KycDecision; reason: string | null; reviewerId: string; at: Date },
  ): Promise<KycSubmission> {
    const row = await tx
      .updateTable('kyc.submissions')
      .set({
        status: input.status,
        reason: input.reason,
        reviewed_by: input.reviewerId,
        reviewed_at: input.at,
      })
      .where('id', '=', id)
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    return toSubmission(row);
  }

  async insertReview(
    tx: Tx,
    input: {
      submissionId: string;
      reviewerId: string;
      reviewerRole: string;
      decision: KycDecision;
      reason: string | null;
      at: Date;
    },
  ): Promise<void> {
    await tx
      .insertInto('kyc.reviews')
      .values({
        submission_id: input.submissionId,
        reviewer_id: input.reviewerId,
        reviewer_role: input.reviewerRole,
        decision: input.decision,
        reason: input.reason,
        created_at: input.at,
      })
      .execute();
  }

  async reviewsOf(submissionIds: readonly string[]): Promise<KycReview[]> {
    if (submissionIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('kyc.reviews')
      .selectAll()
      .where('submission_id', 'in', submissionIds)
      .orderBy('id', 'asc')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      submissionId: r.submission_id,
      reviewerId: r.reviewer_id,
      reviewerRole: r.reviewer_role,
      decision: r.decision,
      reason: r.reason,
      createdAt: r.created_at,
    }));
  }

  /** Every submission of the account, newest first (the history moderators review against). */
  async listFor(userId: string): Promise<KycSubmission[]> {
    const rows = await this.db
      .selectFrom('kyc.submissions')
      .select(COLUMNS)
      .where('user_id', '=', userId)
      .orderBy('seq', 'desc')
      .execute();
    return rows.map(toSubmission);
  }

  /**
   * Drops the document and selfie references of every submission of a deleted account. The rows, their
   * status and the reviews stay: the decisions are kept for compliance, without the documents.
   */
  async eraseDocuments(tx: Tx, userId: string, at: Date): Promise<void> {
    await tx
      .updateTable('kyc.submissions')
      .set({ document_ids: [], selfie_id: null, erased_at: at })
      .where('user_id', '=', userId)
      .where('erased_at', 'is', null)
      .execute();
  }
}
