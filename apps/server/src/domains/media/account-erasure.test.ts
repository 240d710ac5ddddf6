import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { gql } from '../../../test/graphql-client.ts';
import { waitFor } from '../event_log/event-log.test-support.ts';
import { KYC_ERASURE_CONSUMER } from '../kyc/kyc.consumers.ts';
import type { AuthTokens } from '../user/session.service.ts';
import { MEDIA_ERASURE_CONSUMER } from './media.consumers.ts';

const DELETE = 'mutation($confirm: String!) { deleteMyAccount(confirm: $confirm) }';
const MODERATE = `mutation($ids: [ID!]!) { moderateMedia(ids: $ids, decision: APPROVE) { id status } }`;
const REVIEW = `mutation($id: ID!) { reviewKyc(submissionId: $id, decision: APPROVE) { id status } }`;

const png = () =>
  sharp({ create: { width: 320, height: 240, channels: 3, background: '#abc' } })
    .png()
    .toBuffer();

/** Every file under a folder, recursively (empty folders left behind do not count). */
const filesUnder = async (dir: string): Promise<string[]> => {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
};

describe('account deletion erases media and KYC documents', () => {
  let app: TestApp;
  let dir: string;
  let moderator: AuthTokens;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'olo-erasure-'));
    app = await startTestApp({ env: { MEDIA_STORAGE_DIR: dir } });
    moderator = await app.signIn(['user', 'moderator']);
  });
  afterAll(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('removes files and rows, keeps KYC decisions without document ids and the moderation audit', async () => {
    const streamer = await app.signIn(['user', 'streamer']);
    const bystander = await app.signIn(['user']);
    const { media, kyc } = app.services;
    const photo = await media.upload(streamer.userId, 'photo', await png());
    await media.upload(streamer.userId, 'photo', await png());
    const kept = await media.upload(bystander.userId, 'photo', await png());
    const document = await media.upload(streamer.userId, 'kyc_document', await png());
    const selfie = await media.upload(streamer.userId, 'kyc_document', await png());
    const submission = await kyc.submit(streamer.userId, [document.id], selfie.id);
    const token = { token: moderator.accessToken };
    expect((await gql(app.url, MODERATE, { ids: [photo.id] }, token)).errors).toBeUndefined();
    expect((await gql(app.url, REVIEW, { id: submission.id }, token)).errors).toBeUndefined();
    expect(await filesUnder(path.join(dir, 'media', streamer.userId))).not.toHaveLength(0);

    const deleted = await gql(app.url, DELETE, { confirm: 'DELETE' }, { token: streamer.accessToken });
    expect(deleted.data).toEqual({ deleteMyAccount: true });

    const db = app.database.handle.db;
    // The consumers run in this process; drain only hurries them along.
    await waitFor(async () => {
      await app.services.eventLog.drain(MEDIA_ERASURE_CONSUMER);
      await app.services.eventLog.drain(KYC_ERASURE_CONSUMER);
      const rows = await db
        .selectFrom('media.items')
        .select('id')
        .where('owner_id', '=', streamer.userId)
        .execute();
      const erased = await db
        .selectFrom('kyc.submissions')
        .select('id')
        .where('user_id', '=', streamer.userId)
        .where('erased_at', 'is', null)
        .execute();
      return rows.length === 0 && erased.length === 0;
    }, 'media and KYC documents to be erased');

    expect(await filesUnder(path.join(dir, 'media', streamer.userId))).toEqual([]);
    expect(await filesUnder(path.join(dir, 'media', bystander.userId))).not.toHaveLength(0);
    expect(await media.get(kept.id)).toBeDefined();
    for (const id of [photo.id, document.id, selfie.id]) expect(await media.get(id)).toBeUndefined();

    const [history] = await kyc.historyOf(streamer.userId);
    expect(history).toMatchObject({ id: submission.id, status: 'approved', documentIds: [], selfieId: null });
    expect((await kyc.reviewsOf([submission.id])).map((r) => r.decision)).toEqual(['approved']);
    const audit = await db
      .selectFrom('mission_control.audit_log')
      .select('action')
      .where('target_id', '=', photo.id)
      .execute();
    expect(audit.map((a) => a.action)).toEqual(['media.photo_approved']);
  });
});
