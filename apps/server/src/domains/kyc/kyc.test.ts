import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import type { AuthTokens } from '../user/session.service.ts';

const SUBMIT = `mutation($documentIds: [ID!]!, $selfieId: ID!) {
  submitKyc(documentIds: $documentIds, selfieId: $selfieId) { id status documentIds selfieId }
}`;
const REVIEW = `mutation($id: ID!, $decision: KycDecision!, $reason: String) {
  reviewKyc(submissionId: $id, decision: $decision, reason: $reason) { id status reason reviewedAt }
}`;
const MY_KYC = `query { myKyc { id status reason reviews { decision reason reviewedAt } } }`;
const QUEUE = `query { kycQueue(first: 100) { items { id userId reviews { reviewerId } } nextCursor } }`;

type Submission = { id: string; status: string; reason: string | null };

describe('kyc', () => {
  let app: TestApp;
  let dir: string;
  let moderator: AuthTokens;
  let admin: AuthTokens;

  const uploadDocument = async (token: string, kind = 'kyc_document') => {
    const bytes = await sharp({ create: { width: 640, height: 400, channels: 3, background: '#ccc' } })
      .png()
      .toBuffer();
    const form = new FormData();
    form.append('kind', kind);
    form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), 'doc.png');
    const response = await fetch(`${app.url}/media`, {
      method: 'POST',
      body: form,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  };

  const submit = async (streamer: AuthTokens) => {
    const documentIds = [
      await uploadDocument(streamer.accessToken),
      await uploadDocument(streamer.accessToken),
    ];
    const selfieId = await uploadDocument(streamer.accessToken);
    return gql<{ submitKyc: Submission }>(
      app.url,
      SUBMIT,
      { documentIds, selfieId },
      { token: streamer.accessToken },
    );
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'olo-kyc-'));
    app = await startTestApp({ env: { MEDIA_STORAGE_DIR: dir } });
    moderator = await app.signIn(['user', 'moderator']);
    admin = await app.signIn(['user', 'admin']);
  });
  afterAll(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is submitted by streamers only, with their own kyc_document uploads', async () => {
    const user = await app.signIn(['user']);
    const doc = await uploadDocument(user.accessToken);
    expect(
      errorCodes(
        await gql(app.url, SUBMIT, { documentIds: [doc], selfieId: doc }, { token: user.accessToken }),
      ),
    ).toEqual(['FORBIDDEN']);
    const streamer = await app.signIn(['user', 'streamer']);
    const selfie = await uploadDocument(streamer.accessToken);
    const foreign = await gql(
      app.url,
      SUBMIT,
      { documentIds: [doc], selfieId: selfie },
      { token: streamer.accessToken },
    );
    expect(foreign.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'documentIds' });
    const photo = await uploadDocument(streamer.accessToken, 'photo');
    const wrongKind = await gql(
      app.url,
      SUBMIT,
      { documentIds: [photo], selfieId: selfie },
      { token: streamer.accessToken },
    );
    expect(wrongKind.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'documentIds' });
    expect(await app.services.kyc.latestFor(streamer.userId)).toBeUndefined();
  });

  it('goes pending → resubmission requested → pending → approved, keeping every review, audited and told', async () => {
    const streamer = await app.signIn(['user', 'streamer']);
    const first = await submit(streamer);
    expect(first.data?.submitKyc.status).toBe('PENDING');
    expect(errorCodes(await submit(streamer))).toEqual(['CONFLICT']);
    expect(await app.services.kyc.isApproved(streamer.userId)).toBe(false);

    const queue = await gql<{ kycQueue: { items: Array<{ id: string; userId: string }> } }>(
      app.url,
      QUEUE,
      {},
      {
        token: moderator.accessToken,
      },
    );
    expect(queue.data?.kycQueue.items.map((i) => i.id)).toContain(first.data?.submitKyc.id);
    expect(errorCodes(await gql(app.url, QUEUE, {}, { token: streamer.accessToken }))).toEqual(['FORBIDDEN']);
    const selfReview = await gql(
      app.url,
      REVIEW,
      { id: first.data?.submitKyc.id, decision: 'APPROVE' },
      { token: streamer.accessToken },
    );
    expect(errorCodes(selfReview)).toEqual(['FORBIDDEN']);

    const firstId = first.data?.submitKyc.id as string;
    expect(
      errorCodes(
        await gql(
          app.url,
          REVIEW,
          { id: firstId, decision: 'REQUEST_RESUBMISSION' },
          { token: moderator.accessToken },
        ),
      ),
    ).toEqual(['BAD_USER_INPUT']);
    const asked = await gql<{ reviewKyc: Submission }>(
      app.url,
      REVIEW,
      { id: firstId, decision: 'REQUEST_RESUBMISSION', reason: 'Document is blurry' },
      { token: moderator.accessToken },
    );
    expect(asked.data?.reviewKyc).toMatchObject({
      status: 'RESUBMISSION_REQUESTED',
      reason: 'Document is blurry',
    });
    expect(
      errorCodes(
        await gql(app.url, REVIEW, { id: firstId, decision: 'APPROVE' }, { token: admin.accessToken }),
      ),
    ).toEqual(['CONFLICT']);

    const second = await submit(streamer);
    const secondId = second.data?.submitKyc.id as string;
    const approved = await gql<{ reviewKyc: Submission }>(
      app.url,
      REVIEW,
      { id: secondId, decision: 'APPROVE' },
      { token: admin.accessToken },
    );
    expect(approved.data?.reviewKyc.status).toBe('APPROVED');
    expect(await app.services.kyc.isApproved(streamer.userId)).toBe(true);

    const mine = await gql<{
      myKyc: Array<Submission & { reviews: Array<{ decision: string; reason: string | null }> }>;
    }>(app.url, MY_KYC, {}, { token: streamer.accessToken });
    expect(mine.data?.myKyc.map((s) => [s.id, s.status])).toEqual([
      [secondId, 'APPROVED'],
      [firstId, 'RESUBMISSION_REQUESTED'],
    ]);
    expect(mine.data?.myKyc[1]?.reviews).toEqual([
      expect.objectContaining({ decision: 'RESUBMISSION_REQUESTED', reason: 'Document is blurry' }),
    ]);
    // The streamer is not told which moderator decided.
    const reviewer = await gql(
      app.url,
      'query { myKyc { reviews { reviewerId } } }',
      {},
      { token: streamer.accessToken },
    );
    expect(errorCodes(reviewer)).toContain('FORBIDDEN');

    const audit = await gql<{ auditLog: { items: Array<Record<string, unknown>> } }>(
      app.url,
      `query($filter: AuditFilter) { auditLog(filter: $filter) { items { action actorId targetId reason } } }`,
      { filter: { targetType: 'kyc_submission' } },
      { token: admin.accessToken },
    );
    expect(audit.data?.auditLog.items).toEqual(
      expect.arrayContaining([
        {
          action: 'kyc.resubmission_requested',
          actorId: moderator.userId,
          targetId: firstId,
          reason: 'Document is blurry',
        },
        { action: 'kyc.approved', actorId: admin.userId, targetId: secondId, reason: null },
      ]),
    );
    const events = await app.database.handle.db
      .selectFrom('event_log.events')
      .select(['user_id', 'payload'])
      .where('type', '=', 'kyc_reviewed')
      .where('user_id', '=', streamer.userId)
      .execute();
    expect(events.map((e) => (e.payload as { decision: string }).decision).sort()).toEqual([
      'approved',
      'resubmission_requested',
    ]);

    // Verified: nothing more to submit.
    expect(errorCodes(await submit(streamer))).toEqual(['CONFLICT']);
  });

  it('keeps KYC documents away from other accounts', async () => {
    const streamer = await app.signIn(['user', 'streamer']);
    const other = await app.signIn(['user', 'streamer']);
    const doc = await uploadDocument(streamer.accessToken);
    const query = `query($id: ID!) { mediaUrl(id: $id) { url } }`;
    expect(errorCodes(await gql(app.url, query, { id: doc }, { token: other.accessToken }))).toEqual([
      'NOT_FOUND',
    ]);
    expect((await gql(app.url, query, { id: doc }, { token: moderator.accessToken })).errors).toBeUndefined();
  });
});
