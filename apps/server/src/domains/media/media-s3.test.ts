import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';
import {
  ACCESS_KEY,
  BUCKET,
  listenFakeS3,
  REGION,
  SECRET,
} from '../../providers/storage/s3-loopback.test-support.ts';

const URL_QUERY = `query($id: ID!, $variant: MediaVariant) { mediaUrl(id: $id, variant: $variant) { url expiresAt } }`;

describe('media on the S3 backend', () => {
  let app: TestApp;
  let fake: Awaited<ReturnType<typeof listenFakeS3>>;

  beforeAll(async () => {
    fake = await listenFakeS3();
    app = await startTestApp({
      env: {
        STORAGE_BACKEND: 's3',
        S3_ENDPOINT: fake.endpoint,
        S3_BUCKET: BUCKET,
        S3_REGION: REGION,
        S3_ACCESS_KEY_ID: ACCESS_KEY,
        S3_SECRET_ACCESS_KEY: SECRET,
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await fake?.close();
  });

  it('stores clean renditions in the bucket and hands out presigned URLs after the permission check', async () => {
    const owner = await app.signIn(['user']);
    const other = await app.signIn(['user']);
    const jpeg = await sharp({ create: { width: 500, height: 400, channels: 3, background: '#a33' } })
      .jpeg()
      .withExif({ IFD0: { Copyright: 'Secret Owner' } })
      .toBuffer();
    const form = new FormData();
    form.append('kind', 'photo');
    form.append('file', new Blob([new Uint8Array(jpeg)], { type: 'image/jpeg' }), 'p.jpg');
    const response = await fetch(`${app.url}/media`, {
      method: 'POST',
      body: form,
      headers: { authorization: `Bearer ${owner.accessToken}` },
    });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };

    const keys = [...fake.objects.keys()].filter((key) => key.includes(id)).sort();
    expect(keys).toEqual(
      ['1080.webp', '160.webp', '480.webp', 'original.jpg'].map(
        (name) => `media/${owner.userId}/${id}/${name}`,
      ),
    );
    const stored = fake.objects.get(`media/${owner.userId}/${id}/original.jpg`);
    expect(stored?.contentType).toBe('image/jpeg');
    expect((await sharp(stored?.body).metadata()).exif).toBeUndefined();

    expect(errorCodes(await gql(app.url, URL_QUERY, { id }, { token: other.accessToken }))).toEqual([
      'NOT_FOUND',
    ]);
    const link = await gql<{ mediaUrl: { url: string } }>(
      app.url,
      URL_QUERY,
      { id, variant: 'W160' },
      { token: owner.accessToken },
    );
    const url = link.data?.mediaUrl.url as string;
    expect(url.startsWith(`${fake.endpoint}/${BUCKET}/media/`)).toBe(true);
    expect(url).toContain('X-Amz-Signature=');
    const download = await fetch(url);
    expect(download.status).toBe(200);
    expect((await sharp(Buffer.from(await download.arrayBuffer())).metadata()).width).toBe(160);
    expect(fake.refusals).toEqual([]);
  });
});
