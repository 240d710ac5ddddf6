import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { gql } from '../../../test/graphql-client.ts';

const EXPORT = 'query { exportMyData }';
const REVIEW = `mutation($id: ID!, $reason: String) {
  reviewKyc(submissionId: $id, decision: REQUEST_RESUBMISSION, reason: $reason) { id }
}`;

const png = () =>
  sharp({ create: { width: 320, height: 240, channels: 3, background: '#def' } })
    .png()
    .toBuffer();

describe('exportMyData', () => {
  let app: TestApp;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'olo-export-'));
    app = await startTestApp({ env: { MEDIA_STORAGE_DIR: dir } });
  });
  afterAll(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('includes the private profile, the media list without URLs and the KYC history', async () => {
    const user = await app.signIn(['user', 'streamer']);
    const moderator = await app.signIn(['user', 'moderator']);
    await app.services.profiles.update(user.userId, {
      displayName: 'Exporter',
      birthDate: '1990-05-06',
      realName: 'Ex Porter',
    });
    const { media, kyc } = app.services;
    const photo = await media.upload(user.userId, 'photo', await png());
    const document = await media.upload(user.userId, 'kyc_document', await png());
    const selfie = await media.upload(user.userId, 'kyc_document', await png());
    const submission = await kyc.submit(user.userId, [document.id], selfie.id);
    const reviewed = await gql(
      app.url,
      REVIEW,
      { id: submission.id, reason: 'Blurry' },
      { token: moderator.accessToken },
    );
    expect(reviewed.errors).toBeUndefined();

    const response = await gql<{ exportMyData: Record<string, unknown> }>(
      app.url,
      EXPORT,
      {},
      { token: user.accessToken },
    );
    const data = response.data?.exportMyData;
    expect(data).toMatchObject({
      account: { id: user.userId },
      profile: {
        userId: user.userId,
        birthDate: '1990-05-06',
        realName: 'Ex Porter',
        public: { displayName: 'Exporter' },
      },
      kyc: [
        {
          id: submission.id,
          documentIds: [document.id],
          selfieId: selfie.id,
          status: 'resubmission_requested',
          reviews: [{ decision: 'resubmission_requested', reason: 'Blurry', reviewerRole: 'moderator' }],
        },
      ],
    });
    const exported = (data?.media ?? []) as Array<Record<string, unknown>>;
    expect(exported.map((m) => [m.id, m.kind, m.status])).toEqual([
      [selfie.id, 'kyc_document', 'private'],
      [document.id, 'kyc_document', 'private'],
      [photo.id, 'photo', 'pending'],
    ]);
    for (const item of exported) expect(item.createdAt).toEqual(expect.any(String));
    const text = JSON.stringify(data);
    // No download URLs, storage keys or reviewer ids.
    expect(text).not.toContain('/media/');
    expect(text).not.toContain(moderator.userId);
  });
});
