import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback server speaking just enough of the S3 REST API (path-style PUT/GET/HEAD/DELETE object) to
 * hold objects in memory, which refuses every request whose AWS SigV4 signature (Authorization header
 * or presigned query) it cannot recompute from the secret. Used by the adapter's tests and by media
 * tests running on the s3 backend.
 */
export const ACCESS_KEY = 'AKIDLOOPBACKTEST';
export const SECRET = 'loopback-secret-key/for+sigv4';
export const REGION = 'eu-test-1';
export const BUCKET = 'olo-media';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

// RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone).
const uriEncode = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The SigV4 signature of a request, computed from scratch the way AWS documents it. */
function signature(input: {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  signedHeaders: string[];
  payloadHash: string;
  amzDate: string;
  scope: string;
}): string {
  const canonicalQuery = [...input.query.entries()]
    .filter(([name]) => name !== 'X-Amz-Signature')
    .map(([name, value]) => `${uriEncode(name)}=${uriEncode(value)}`)
    .sort()
    .join('&');
  const canonicalHeaders = input.signedHeaders
    .map(
      (name) =>
        `${name}:${String(input.headers[name] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const canonicalRequest = [
    input.method,
    input.path,
    canonicalQuery,
    canonicalHeaders,
    input.signedHeaders.join(';'),
    input.payloadHash,
  ].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', input.amzDate, input.scope, sha256(canonicalRequest)].join('\n');
  const [date, region, service] = input.scope.split('/') as [string, string, string];
  const key = hmac(hmac(hmac(hmac(`AWS4${SECRET}`, date), region), service), 'aws4_request');
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

const same = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** Checks the request's SigV4 signature (header or presigned query); returns why it fails, or null. */
function verify(request: IncomingMessage, body: Buffer): string | null {
  const url = new URL(request.url ?? '/', 'http://loopback');
  const method = request.method ?? 'GET';
  const auth = request.headers.authorization;
  if (auth) {
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
        auth,
      );
    if (!match) return 'malformed Authorization';
    const [, accessKey, scope, signed, given] = match as unknown as [string, string, string, string, string];
    if (accessKey !== ACCESS_KEY) return 'unknown access key';
    const payloadHash = String(request.headers['x-amz-content-sha256'] ?? '');
    if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== sha256(body)) return 'payload hash mismatch';
    const expected = signature({
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: request.headers,
      signedHeaders: signed.split(';'),
      payloadHash,
      amzDate: String(request.headers['x-amz-date']),
      scope,
    });
    return same(expected, given) ? null : 'signature mismatch';
  }
  const q = url.searchParams;
  if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return 'no signature';
  const [accessKey, ...scopeParts] = (q.get('X-Amz-Credential') ?? '').split('/');
  if (accessKey !== ACCESS_KEY) return 'unknown access key';
  const amzDate = q.get('X-Amz-Date') ?? '';
  const signedAt = Date.parse(
    amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
  );
  if (Date.now() > signedAt + Number(q.get('X-Amz-Expires')) * 1000) return 'expired';
  const expected = signature({
    method,
    path: url.pathname,
    query: q,
    headers: request.headers,
    signedHeaders: (q.get('X-Amz-SignedHeaders') ?? '').split(';'),
    payloadHash: 'UNSIGNED-PAYLOAD',
    amzDate,
    scope: scopeParts.join('/'),
  });
  return same(expected, q.get('X-Amz-Signature') ?? '') ? null : 'signature mismatch';
}

/** Just enough of the S3 REST API (path-style PUT/GET/HEAD/DELETE object) to hold objects in memory. */
export function startFakeS3() {
  const objects = new Map<string, { body: Buffer; contentType: string }>();
  const refusals: string[] = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const failure = verify(request, body);
    if (failure) {
      refusals.push(failure);
      response.writeHead(403, { 'content-type': 'application/xml' });
      response.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>${failure}</Message></Error>`,
      );
      return;
    }
    const url = new URL(request.url ?? '/', 'http://loopback');
    const [, bucket, ...rest] = url.pathname.split('/');
    const key = rest.map(decodeURIComponent).join('/');
    if (bucket !== BUCKET) {
      response.writeHead(404, { 'content-type': 'application/xml' });
      response.end('<Error><Code>NoSuchBucket</Code><Message>no bucket</Message></Error>');
      return;
    }
    const object = objects.get(key);
    switch (request.method) {
      case 'PUT':
        objects.set(key, { body, contentType: String(request.headers['content-type'] ?? '') });
        response.writeHead(200, { etag: `"${createHash('md5').update(body).digest('hex')}"` });
        response.end();
        return;
      case 'GET':
      case 'HEAD':
        if (!object) {
          response.writeHead(404, { 'content-type': 'application/xml' });
          response.end(
            request.method === 'HEAD'
              ? undefined
              : '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>',
          );
          return;
        }
        response.writeHead(200, { 'content-type': object.contentType, 'content-length': object.body.length });
        response.end(request.method === 'HEAD' ? undefined : object.body);
        return;
      case 'DELETE':
        objects.delete(key);
        response.writeHead(204);
        response.end();
        return;
      default:
        response.writeHead(405);
        response.end();
    }
  });
  return { server, objects, refusals };
}

/** Starts the fake S3 on a free loopback port. */
export async function listenFakeS3() {
  const fake = startFakeS3();
  await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
  return {
    ...fake,
    endpoint,
    close: () => new Promise<void>((resolve) => fake.server.close(() => resolve())),
  };
}
