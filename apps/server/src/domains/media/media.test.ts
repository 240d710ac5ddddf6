import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql, wsClient } from '../../../test/graphql-client.ts';
import { channels } from '../../platform/realtime/pubsub.ts';
import type { AuthTokens } from '../user/session.service.ts';

const URL_TTL_SECONDS = 60;
const MAX_BYTES = 2_000_000;
const MAX_VIDEO_BYTES = 100_000;

/**
 * The smallest MP4 file-type recognises: an `ftyp` box (size 24, brand isom, compatible isom/mp41).
 * The rest is padding: videos are stored as is, never decoded.
 */
const tinyMp4 = (padding = 1000) =>
  Buffer.concat([
    Buffer.from([0, 0, 0, 0x18]),
    Buffer.from('ftypisom'),
    Buffer.from([0, 0, 2, 0]),
    Buffer.from('isommp41'),
    Buffer.alloc(padding),
  ]);

/** The system clock, moved forward on demand: URL expiry is tested without sleeping. */
const shiftedClock = () => {
  let offsetMs = 0;
  return { now: () => new Date(Date.now() + offsetMs), advance: (ms: number) => (offsetMs += ms) };
};

/** A JPEG 800×600 on disk that displays as 600×800 (EXIF orientation 6) and carries EXIF and GPS. */
const jpegWithExif = () =>
  sharp({ create: { width: 800, height: 600, channels: 3, background: { r: 200, g: 30, b: 30 } } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExif({
      IFD0: { Copyright: 'Secret Owner', Make: 'SpyCam', Model: 'X1' },
      IFD3: {
        GPSLatitudeRef: 'N',
        GPSLatitude: '52/1 31/1 0/1',
        GPSLongitudeRef: 'E',
        GPSLongitude: '13/1 24/1 0/1',
      },
    })
    .toBuffer();

const png = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 4, background: { r: 0, g: 90, b: 200, alpha: 1 } } })
    .png()
    .toBuffer();

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

type UploadResponse = { status: number; body: { id?: string; error?: { code: string; field?: string } } };

const URL_QUERY = `query($id: ID!, $variant: MediaVariant) { mediaUrl(id: $id, variant: $variant) { url expiresAt } }`;
const QUEUE = `query($kind: ModeratedMediaKind, $first: Int, $after: String) {
  mediaModerationQueue(kind: $kind, first: $first, after: $after) { items { id ownerId kind status } nextCursor }
}`;
const MODERATE = `mutation($ids: [ID!]!, $decision: ModerationDecision!, $reason: String) {
  moderateMedia(ids: $ids, decision: $decision, reason: $reason) { id status rejectionReason }
}`;

describe('media', () => {
  let app: TestApp;
  let dir: string;
  const clock = shiftedClock();
  let owner: AuthTokens;
  let other: AuthTokens;
  let moderator: AuthTokens;
  let admin: AuthTokens;

  const upload = async (
    token: string | undefined,
    kind: string,
    bytes: Buffer,
    name = 'photo.jpg',
    type = 'image/jpeg',
  ): Promise<UploadResponse> => {
    const form = new FormData();
    form.append('kind', kind);
    form.append('file', new Blob([new Uint8Array(bytes)], { type }), name);
    const response = await fetch(`${app.url}/media`, {
      method: 'POST',
      body: form,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    return { status: response.status, body: (await response.json()) as UploadResponse['body'] };
  };

  // URLs name PUBLIC_URL (http://olo.test in tests); the server under test listens elsewhere.
  const reachable = (url: string) => {
    const parsed = new URL(url);
    return new URL(`${app.url}${parsed.pathname}${parsed.search}`);
  };

  const urlFor = async (token: string, id: string, variant = 'ORIGINAL') =>
    gql<{ mediaUrl: { url: string; expiresAt: string } }>(app.url, URL_QUERY, { id, variant }, { token });

  const uploadPhoto = async (token: string) => {
    const result = await upload(token, 'photo', await png(400, 300), 'p.png', 'image/png');
    expect(result.status).toBe(201);
    return result.body.id as string;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'olo-media-'));
    app = await startTestApp({
      env: {
        MEDIA_STORAGE_DIR: dir,
        MEDIA_URL_TTL_SECONDS: String(URL_TTL_SECONDS),
        MEDIA_MAX_IMAGE_BYTES: String(MAX_BYTES),
        MEDIA_MAX_VIDEO_BYTES: String(MAX_VIDEO_BYTES),
      },
      clock,
    });
    owner = await app.signIn(['user']);
    other = await app.signIn(['user']);
    moderator = await app.signIn(['user', 'moderator']);
    admin = await app.signIn(['user', 'admin']);
  });
  afterAll(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('upload', () => {
    it('refuses a file whose bytes are not an image, whatever its declared name and type; stores nothing', async () => {
      const before = await listFiles(dir);
      const result = await upload(
        owner.accessToken,
        'photo',
        Buffer.from('just some text, not a JPEG\n'.repeat(50)),
      );
      expect(result.status).toBe(400);
      expect(result.body.error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'file' });
      // An HTML file dressed up as an image is not an image either.
      const html = await upload(
        owner.accessToken,
        'photo',
        Buffer.from('<html><script>alert(1)</script></html>'),
        'x.png',
        'image/png',
      );
      expect(html.status).toBe(400);
      expect(await listFiles(dir)).toEqual(before);
      const mine = await gql<{ myMedia: { items: unknown[] } }>(
        app.url,
        'query { myMedia { items { id } } }',
        {},
        { token: owner.accessToken },
      );
      expect(mine.data?.myMedia.items).toEqual([]);
    });

    it('refuses images outside the size limits, unknown kinds, and anonymous callers', async () => {
      const small = await upload(owner.accessToken, 'photo', await png(100, 300), 'small.png', 'image/png');
      expect(small.status).toBe(400);
      expect(small.body.error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'file' });
      const kind = await upload(owner.accessToken, 'avatar', await png(300, 300));
      expect(kind.body.error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'kind' });
      // Larger than the limit: cut off while streaming, whatever it contains.
      const tooLarge = Buffer.concat([await png(300, 300), Buffer.alloc(MAX_BYTES)]);
      const large = await upload(owner.accessToken, 'photo', tooLarge, 'big.png', 'image/png');
      expect(large.status).toBe(400);
      expect(large.body.error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'file' });
      const anonymous = await upload(undefined, 'photo', await png(300, 300));
      expect(anonymous.status).toBe(401);
      expect(await listFiles(dir)).toEqual([]);
    });

    it('re-encodes images without EXIF or GPS, upright, with thumbnails', async () => {
      const original = await jpegWithExif();
      expect((await sharp(original).metadata()).exif).toBeDefined();
      const result = await upload(owner.accessToken, 'photo', original);
      expect(result.status).toBe(201);
      const id = result.body.id as string;

      const stored = (await listFiles(dir)).filter((f) => f.includes(id));
      expect(stored.map((f) => path.basename(f)).sort()).toEqual([
        '1080.webp',
        '160.webp',
        '480.webp',
        'original.jpg',
      ]);
      for (const file of stored) {
        const bytes = await readFile(file);
        const metadata = await sharp(bytes).metadata();
        expect(metadata.exif, file).toBeUndefined();
        expect(metadata.orientation, file).toBeUndefined();
        expect(bytes.includes('Secret Owner'), file).toBe(false);
        expect(bytes.includes('SpyCam'), file).toBe(false);
      }
      const originalFile = stored.find((f) => f.endsWith('original.jpg')) as string;
      const upright = await sharp(await readFile(originalFile)).metadata();
      expect([upright.width, upright.height]).toEqual([600, 800]);
      const thumb = await sharp(
        await readFile(stored.find((f) => f.endsWith('160.webp')) as string),
      ).metadata();
      expect(thumb.width).toBe(160);

      // What a client downloads is the same clean file.
      const link = await urlFor(owner.accessToken, id);
      const downloaded = await fetch(reachable(link.data?.mediaUrl.url as string));
      expect(downloaded.status).toBe(200);
      expect(downloaded.headers.get('content-type')).toBe('image/jpeg');
      const body = Buffer.from(await downloaded.arrayBuffer());
      expect((await sharp(body).metadata()).exif).toBeUndefined();
    });
  });

  describe('videos', () => {
    const uploadVideo = (token: string, bytes: Buffer, type = 'video/mp4') =>
      upload(token, 'video', bytes, 'clip.mp4', type);

    it('refuses a file declared video/mp4 whose bytes are not MP4 or WebM, even an image', async () => {
      const before = await listFiles(dir);
      for (const bytes of [Buffer.from('not a video at all\n'.repeat(20)), await png(300, 300)]) {
        const result = await uploadVideo(owner.accessToken, bytes);
        expect(result.status).toBe(400);
        expect(result.body.error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'file' });
      }
      expect(await listFiles(dir)).toEqual(before);
    });

    it('enforces MEDIA_MAX_VIDEO_BYTES, while images keep their own limit', async () => {
      const before = await listFiles(dir);
      const large = await uploadVideo(owner.accessToken, tinyMp4(MAX_VIDEO_BYTES));
      expect(large.status).toBe(400);
      expect(large.body.error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'file' });
      // Just under the limit is fine.
      const fits = await uploadVideo(owner.accessToken, tinyMp4(MAX_VIDEO_BYTES - 24));
      expect(fits.status).toBe(201);
      expect((await listFiles(dir)).length).toBe(before.length + 1);
    });

    it('stores an MP4 as is, queues it, and shows it to others once approved', async () => {
      const bytes = tinyMp4();
      // The declared type is ignored in both directions: an MP4 sent as text is still an MP4.
      const result = await uploadVideo(owner.accessToken, bytes, 'text/plain');
      expect(result.status).toBe(201);
      expect(result.body).toMatchObject({ kind: 'video', status: 'pending' });
      const id = result.body.id as string;
      const stored = (await listFiles(dir)).filter((f) => f.includes(id));
      expect(stored.map((f) => path.basename(f))).toEqual(['original.mp4']);
      expect((await readFile(stored[0] as string)).equals(bytes)).toBe(true);

      const videos = await gql<{ mediaModerationQueue: { items: Array<{ id: string; kind: string }> } }>(
        app.url,
        QUEUE,
        { kind: 'VIDEO', first: 100 },
        { token: moderator.accessToken },
      );
      expect(videos.data?.mediaModerationQueue.items.map((i) => i.id)).toContain(id);
      expect(videos.data?.mediaModerationQueue.items.every((i) => i.kind === 'VIDEO')).toBe(true);
      const photos = await gql<{ mediaModerationQueue: { items: Array<{ id: string; kind: string }> } }>(
        app.url,
        QUEUE,
        { kind: 'PHOTO', first: 100 },
        { token: moderator.accessToken },
      );
      expect(photos.data?.mediaModerationQueue.items.map((i) => i.id)).not.toContain(id);

      expect(errorCodes(await urlFor(other.accessToken, id))).toEqual(['NOT_FOUND']);
      const approved = await gql<{ moderateMedia: Array<{ id: string; status: string }> }>(
        app.url,
        MODERATE,
        { ids: [id], decision: 'APPROVE' },
        { token: moderator.accessToken },
      );
      expect(approved.data?.moderateMedia).toEqual([{ id, status: 'APPROVED', rejectionReason: null }]);

      const link = await urlFor(other.accessToken, id);
      const downloaded = await fetch(reachable(link.data?.mediaUrl.url as string));
      expect(downloaded.status).toBe(200);
      expect(downloaded.headers.get('content-type')).toBe('video/mp4');
      expect(Buffer.from(await downloaded.arrayBuffer()).equals(bytes)).toBe(true);
      // Videos have no thumbnails.
      expect(errorCodes(await urlFor(owner.accessToken, id, 'W160'))).toEqual(['NOT_FOUND']);

      const audit = await gql<{ auditLog: { items: Array<{ action: string }> } }>(
        app.url,
        `query($filter: AuditFilter) { auditLog(filter: $filter) { items { action } } }`,
        { filter: { targetType: 'media', targetId: id } },
        { token: admin.accessToken },
      );
      expect(audit.data?.auditLog.items).toEqual([{ action: 'media.video_approved' }]);
      const events = await app.database.handle.db
        .selectFrom('event_log.events')
        .select(['type', 'user_id', 'payload'])
        .where('type', '=', 'video_moderated')
        .execute();
      expect(events).toContainEqual({
        type: 'video_moderated',
        user_id: owner.userId,
        payload: { mediaId: id, ownerId: owner.userId, decision: 'approved', reason: null },
      });
    });
  });

  describe('signed URLs', () => {
    it('serve the file until they expire, and refuse any change to them', async () => {
      const id = await uploadPhoto(owner.accessToken);
      const link = await urlFor(owner.accessToken, id, 'W480');
      expect(link.data?.mediaUrl.url.startsWith('http://olo.test/media/')).toBe(true);
      const url = reachable(link.data?.mediaUrl.url as string);
      expect((await fetch(url)).status).toBe(200);

      const sig = url.searchParams.get('sig') as string;
      const expires = url.searchParams.get('expires') as string;
      const altered = [
        `${url.origin}${url.pathname}?expires=${expires}&sig=${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`,
        `${url.origin}${url.pathname}?expires=${Number(expires) + 3600}&sig=${sig}`,
        `${url.origin}${url.pathname.replace('/480', '/original')}?expires=${expires}&sig=${sig}`,
        `${url.origin}${url.pathname}?expires=${expires}`,
      ];
      for (const candidate of altered) {
        const response = await fetch(candidate);
        expect(response.status, candidate).toBe(403);
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
      }
      // Another photo's id under this signature is refused as well.
      const otherId = await uploadPhoto(owner.accessToken);
      expect((await fetch(url.href.replace(id, otherId))).status).toBe(403);

      clock.advance((URL_TTL_SECONDS + 1) * 1000);
      const expired = await fetch(url);
      expect(expired.status).toBe(403);
    });
  });

  describe('who may get a URL', () => {
    it('others get none for a pending or rejected photo, or any KYC document; staff and the owner do', async () => {
      const photo = await uploadPhoto(owner.accessToken);
      const kyc = await upload(
        owner.accessToken,
        'kyc_document',
        await png(600, 400),
        'passport.png',
        'image/png',
      );
      expect(kyc.status).toBe(201);
      const documentId = kyc.body.id as string;

      for (const id of [photo, documentId]) {
        expect(errorCodes(await urlFor(other.accessToken, id))).toEqual(['NOT_FOUND']);
        expect((await urlFor(owner.accessToken, id)).data?.mediaUrl.url).toBeTruthy();
        expect((await urlFor(moderator.accessToken, id)).data?.mediaUrl.url).toBeTruthy();
      }
      // A moderator acting as a plain user does not get staff access.
      const asUser = await gql(
        app.url,
        URL_QUERY,
        { id: documentId },
        {
          token: moderator.accessToken,
          headers: { 'x-hasura-role': 'user' },
        },
      );
      expect(errorCodes(asUser)).toEqual(['NOT_FOUND']);
      // An id that does not exist looks the same as one the caller may not see.
      expect(errorCodes(await urlFor(other.accessToken, '00000000-0000-4000-8000-000000000000'))).toEqual([
        'NOT_FOUND',
      ]);

      await gql(app.url, MODERATE, { ids: [photo], decision: 'APPROVE' }, { token: moderator.accessToken });
      expect((await urlFor(other.accessToken, photo)).data?.mediaUrl.url).toBeTruthy();
      expect(errorCodes(await urlFor(other.accessToken, documentId))).toEqual(['NOT_FOUND']);

      await gql(
        app.url,
        MODERATE,
        { ids: [photo], decision: 'REJECT', reason: 'nudity' },
        { token: moderator.accessToken },
      );
      expect(errorCodes(await urlFor(other.accessToken, photo))).toEqual(['NOT_FOUND']);
    });
  });

  describe('moderation', () => {
    it('is for moderators and admins only', async () => {
      expect(errorCodes(await gql(app.url, QUEUE, {}, { token: owner.accessToken }))).toEqual(['FORBIDDEN']);
      const id = await uploadPhoto(owner.accessToken);
      const attempt = await gql(
        app.url,
        MODERATE,
        { ids: [id], decision: 'APPROVE' },
        { token: other.accessToken },
      );
      expect(errorCodes(attempt)).toEqual(['FORBIDDEN']);
    });

    it('queues pending photos, decides in bulk, audits every change and tells the owner', async () => {
      const ids = [await uploadPhoto(owner.accessToken), await uploadPhoto(other.accessToken)];
      const queue = await gql<{ mediaModerationQueue: { items: Array<{ id: string; status: string }> } }>(
        app.url,
        QUEUE,
        { first: 100 },
        { token: moderator.accessToken },
      );
      const queued = queue.data?.mediaModerationQueue.items.map((i) => i.id) ?? [];
      expect(queued).toEqual(expect.arrayContaining(ids));
      expect(queue.data?.mediaModerationQueue.items.every((i) => i.status === 'PENDING')).toBe(true);

      const noReason = await gql(
        app.url,
        MODERATE,
        { ids, decision: 'REJECT' },
        { token: moderator.accessToken },
      );
      expect(errorCodes(noReason)).toEqual(['BAD_USER_INPUT']);

      const rejected = await gql<{
        moderateMedia: Array<{ id: string; status: string; rejectionReason: string }>;
      }>(
        app.url,
        MODERATE,
        { ids, decision: 'REJECT', reason: 'Face not visible' },
        { token: moderator.accessToken },
      );
      expect(rejected.errors).toBeUndefined();
      expect(rejected.data?.moderateMedia).toEqual(
        ids.map((id) => ({ id, status: 'REJECTED', rejectionReason: 'Face not visible' })),
      );
      const after = await gql<{ mediaModerationQueue: { items: Array<{ id: string }> } }>(
        app.url,
        QUEUE,
        { first: 100 },
        {
          token: moderator.accessToken,
        },
      );
      expect(after.data?.mediaModerationQueue.items.map((i) => i.id)).not.toEqual(
        expect.arrayContaining([ids[0]]),
      );

      const audit = await gql<{ auditLog: { items: Array<Record<string, unknown>> } }>(
        app.url,
        `query($filter: AuditFilter) { auditLog(filter: $filter) { items { action actorId actorRole targetType targetId reason before after requestId } } }`,
        { filter: { targetType: 'media', targetId: ids[0] } },
        { token: admin.accessToken },
      );
      expect(audit.data?.auditLog.items).toEqual([
        expect.objectContaining({
          action: 'media.photo_rejected',
          actorId: moderator.userId,
          actorRole: 'moderator',
          targetId: ids[0],
          reason: 'Face not visible',
          before: { status: 'pending', rejectionReason: null },
          after: { status: 'rejected', rejectionReason: 'Face not visible' },
        }),
      ]);
      expect(audit.data?.auditLog.items[0]?.requestId).toBeTruthy();

      const events = await app.database.handle.db
        .selectFrom('event_log.events')
        .select(['type', 'user_id', 'payload'])
        .where('type', '=', 'photo_moderated')
        .execute();
      expect(events).toEqual(
        expect.arrayContaining([
          {
            type: 'photo_moderated',
            user_id: owner.userId,
            payload: {
              mediaId: ids[0],
              ownerId: owner.userId,
              decision: 'rejected',
              reason: 'Face not visible',
            },
          },
        ]),
      );
    });

    it("reaches the owner's accountEvents subscription, and no one else's", async () => {
      const ownerSocket = wsClient(app.wsUrl, { authorization: `Bearer ${owner.accessToken}` });
      const otherSocket = wsClient(app.wsUrl, { authorization: `Bearer ${other.accessToken}` });
      const received: string[] = [];
      const otherReceived: string[] = [];
      const subscribe = (socket: ReturnType<typeof wsClient>, into: string[]) =>
        socket.client.subscribe(
          { query: 'subscription { accountEvents { type payload } }' },
          { next: (value) => into.push(JSON.stringify(value)), error: () => {}, complete: () => {} },
        );
      subscribe(ownerSocket, received);
      subscribe(otherSocket, otherReceived);
      // The subscription is live once a probe on the owner's channel comes through.
      const probe = { type: 'probe', occurredAt: new Date().toISOString(), payload: {} };
      for (let i = 0; i < 100 && !received.some((r) => r.includes('probe')); i++) {
        await app.services.pubsub.publish(channels.user(owner.userId), probe);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const id = await uploadPhoto(owner.accessToken);
      await gql(app.url, MODERATE, { ids: [id], decision: 'APPROVE' }, { token: moderator.accessToken });
      for (let i = 0; i < 200 && !received.some((r) => r.includes(id)); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const delivered = received.find((r) => r.includes(id));
      expect(delivered).toContain('photo_moderated');
      expect(delivered).toContain('"decision":"approved"');
      expect(otherReceived.some((r) => r.includes(id))).toBe(false);
      await ownerSocket.client.dispose();
      await otherSocket.client.dispose();
    });

    it('changes nothing when one id in the batch is unknown', async () => {
      const id = await uploadPhoto(owner.accessToken);
      const result = await gql(
        app.url,
        MODERATE,
        { ids: [id, '00000000-0000-4000-8000-000000000000'], decision: 'APPROVE' },
        { token: moderator.accessToken },
      );
      expect(errorCodes(result)).toEqual(['NOT_FOUND']);
      expect((await app.services.media.get(id))?.status).toBe('pending');
    });
  });
});
