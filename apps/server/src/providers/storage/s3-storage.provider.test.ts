import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_KEY, BUCKET, listenFakeS3, REGION, SECRET } from './s3-loopback.test-support.ts';
import { createS3Storage } from './s3-storage.provider.ts';

describe('S3 storage against a loopback server that checks SigV4', () => {
  let fake: Awaited<ReturnType<typeof listenFakeS3>>;
  const storage = (secret = SECRET) =>
    createS3Storage({
      endpoint: fake.endpoint,
      bucket: BUCKET,
      region: REGION,
      accessKeyId: ACCESS_KEY,
      secretAccessKey: secret,
      forcePathStyle: true,
    });

  beforeAll(async () => {
    fake = await listenFakeS3();
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('puts, gets and deletes an object with signed requests', async () => {
    const s3 = storage();
    const key = 'media/u1/m1/original.jpg';
    await s3.put(key, Buffer.from('jpeg bytes'), 'image/jpeg');
    expect(fake.objects.get(key)?.body.toString()).toBe('jpeg bytes');
    expect(fake.objects.get(key)?.contentType).toBe('image/jpeg');
    const object = await s3.get(key);
    expect(object?.contentType).toBe('image/jpeg');
    expect(object && (await text(object.body))).toBe('jpeg bytes');
    await s3.delete(key);
    expect(fake.objects.has(key)).toBe(false);
    expect(await s3.get(key)).toBeNull();
    expect(fake.refusals).toEqual([]);
  });

  it('issues presigned GET URLs the server accepts, and refuses them once altered', async () => {
    const s3 = storage();
    const key = 'media/u1/m2/480.webp';
    await s3.put(key, Buffer.from('webp bytes'), 'image/webp');
    const url = await s3.presignedGetUrl(key, 60);
    expect(url).toContain('X-Amz-Signature=');
    const ok = await fetch(url ?? '');
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('webp bytes');
    const tampered = (url ?? '').replace('480.webp', '1080.webp');
    expect((await fetch(tampered)).status).toBe(403);
    expect(fake.refusals).toContain('signature mismatch');
  });

  it('is refused when signed with the wrong secret', async () => {
    const before = fake.refusals.length;
    await expect(
      storage('not-the-secret').put('media/x/y/z.jpg', Buffer.from('x'), 'image/jpeg'),
    ).rejects.toThrow();
    expect(fake.refusals.slice(before)).toEqual(['signature mismatch']);
    expect(fake.objects.has('media/x/y/z.jpg')).toBe(false);
  });
});
