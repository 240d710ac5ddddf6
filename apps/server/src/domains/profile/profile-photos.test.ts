import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { gql } from '../../../test/graphql-client.ts';

const PHOTOS = 'query($id: ID!) { profile(userId: $id) { photos { id thumbnailUrl expiresAt } } }';
const MODERATE = `mutation($ids: [ID!]!, $decision: ModerationDecision!, $reason: String) {
  moderateMedia(ids: $ids, decision: $decision, reason: $reason) { id }
}`;

const png = () =>
  sharp({ create: { width: 200, height: 200, channels: 3, background: '#9c9' } })
    .png()
    .toBuffer();

type Photo = { id: string; thumbnailUrl: string; expiresAt: string };

describe('PublicProfile.photos', () => {
  let app: TestApp;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'olo-profile-photos-'));
    app = await startTestApp({ env: { MEDIA_STORAGE_DIR: dir } });
  });
  afterAll(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists approved photos only, newest first, at most 20, with working thumbnail URLs', async () => {
    const owner = await app.signIn(['user', 'streamer']);
    const viewer = await app.signIn(['user']);
    const moderator = await app.signIn(['user', 'moderator']);
    const upload = async (kind: 'photo' | 'kyc_document') =>
      (await app.services.media.upload(owner.userId, kind, await png())).id;
    const moderate = async (ids: string[], decision: string, reason?: string) => {
      const result = await gql(
        app.url,
        MODERATE,
        { ids, decision, reason },
        { token: moderator.accessToken },
      );
      expect(result.errors).toBeUndefined();
    };

    const approved: string[] = [];
    for (let i = 0; i < 21; i++) approved.push(await upload('photo'));
    await moderate(approved, 'APPROVE');
    const pending = await upload('photo');
    const rejected = await upload('photo');
    await moderate([rejected], 'REJECT', 'Not you');
    const document = await upload('kyc_document');

    for (const token of [viewer.accessToken, owner.accessToken]) {
      const result = await gql<{ profile: { photos: Photo[] } }>(
        app.url,
        PHOTOS,
        { id: owner.userId },
        { token },
      );
      expect(result.errors).toBeUndefined();
      const photos = result.data?.profile.photos ?? [];
      expect(photos.map((p) => p.id)).toEqual([...approved].reverse().slice(0, 20));
      for (const hidden of [pending, rejected, document]) {
        expect(photos.map((p) => p.id)).not.toContain(hidden);
      }
    }

    const first = (
      await gql<{ profile: { photos: Photo[] } }>(
        app.url,
        PHOTOS,
        { id: owner.userId },
        { token: viewer.accessToken },
      )
    ).data?.profile.photos[0] as Photo;
    expect(first.thumbnailUrl).toContain(`/media/${first.id}/160`);
    // URLs name PUBLIC_URL; the server under test listens elsewhere.
    const url = new URL(first.thumbnailUrl);
    const response = await fetch(`${app.url}${url.pathname}${url.search}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/webp');
  });

  it('is empty for an account without approved photos', async () => {
    const owner = await app.signIn();
    await app.services.media.upload(owner.userId, 'photo', await png());
    const result = await gql<{ profile: { photos: Photo[] } }>(
      app.url,
      PHOTOS,
      { id: owner.userId },
      { token: owner.accessToken },
    );
    expect(result.data?.profile.photos).toEqual([]);
  });
});
