import { createPublicKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { issueCertificate } from '../payments/x509-builder.ts';
import { decryptPayload } from './webpush-crypto.ts';

/**
 * Loopback servers that speak each push vendor's wire format and check its authentication with the
 * real verification code (JWT signatures, VAPID, Web Push decryption). Tests of the providers and of
 * the notification domain use them.
 */

/** A TLS server certificate for `localhost` under a throwaway root, built with node:crypto only. */
export function localhostCertificate(): { keyPem: string; certPem: string; caPem: string } {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 24 * 3600_000);
  const root = issueCertificate({ role: 'root', subject: 'OLO Test Root', notBefore, notAfter });
  const leaf = issueCertificate({ role: 'leaf', subject: 'localhost', issuer: root, notBefore, notAfter });
  return {
    keyPem: leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certPem: new X509Certificate(leaf.der).toString(),
    caPem: new X509Certificate(root.der).toString(),
  };
}

export type ApnsRequest = {
  headers: http2.IncomingHttpHeaders;
  payload: Record<string, unknown>;
  token: string;
};

/** An APNs provider key (.p8) with its public half. */
export function apnsKey(): { privateKeyPem: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey };
}

/**
 * APNs over HTTP/2 with TLS. Checks the provider JWT (ES256, kid, iss = team id); answers by token:
 * tokens starting `gone` get 410 Unregistered, `bad` 400 BadDeviceToken, `busy` 503, `flaky` 503 on
 * their first request and 200 after, others 200.
 */
export async function startApnsLoopback(input: { teamId: string; keyId: string; publicKey: KeyObject }) {
  const tls = localhostCertificate();
  const requests: ApnsRequest[] = [];
  const flakyAnswered = new Set<string>();
  let sessions = 0;
  let open = 0;
  const server = http2.createSecureServer({ key: tls.keyPem, cert: tls.certPem });
  server.on('session', (session) => {
    sessions++;
    open++;
    session.on('close', () => {
      open--;
    });
  });
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      void (async () => {
        const respond = (status: number, body?: object) => {
          stream.respond({ ':status': status, 'apns-id': String(headers['apns-id'] ?? '') });
          stream.end(body ? JSON.stringify(body) : undefined);
        };
        const auth = String(headers.authorization ?? '');
        try {
          const jwt = auth.replace(/^bearer /, '');
          await jwtVerify(jwt, input.publicKey, { issuer: input.teamId, algorithms: ['ES256'] });
          if (decodeProtectedHeader(jwt).kid !== input.keyId) throw new Error('kid');
        } catch {
          respond(403, { reason: 'InvalidProviderToken' });
          return;
        }
        const token = decodeURIComponent(String(headers[':path']).replace('/3/device/', ''));
        requests.push({ headers, payload: JSON.parse(Buffer.concat(chunks).toString()), token });
        if (token.startsWith('gone')) respond(410, { reason: 'Unregistered', timestamp: Date.now() });
        else if (token.startsWith('bad')) respond(400, { reason: 'BadDeviceToken' });
        else if (token.startsWith('busy')) respond(503, { reason: 'ServiceUnavailable' });
        else if (token.startsWith('flaky') && !flakyAnswered.has(token)) {
          flakyAnswered.add(token);
          respond(503, { reason: 'ServiceUnavailable' });
        } else respond(200);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://localhost:${(server.address() as AddressInfo).port}`,
    caPem: tls.caPem,
    requests,
    sessions: () => sessions,
    /** Client connections still open. */
    openSessions: () => open,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type HttpRequest = { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer };

async function startHttp(
  handler: (
    request: HttpRequest,
  ) => Promise<{ status: number; body?: unknown; headers?: Record<string, string> }>,
) {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handler({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      }).then((answer) => {
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type FcmRequest = { projectId: string; message: Record<string, unknown>; receivedAt: number };

/** A Google service account key (JSON) with its public half, for the FCM loopback's token endpoint. */
export function googleServiceAccount(email = 'push@olo-test.iam.gserviceaccount.com') {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    json: JSON.stringify({
      client_email: email,
      private_key: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      private_key_id: 'kid-fcm',
    }),
    email,
    publicKey: keys.publicKey,
  };
}

/**
 * FCM HTTP v1 and Google's OAuth2 token endpoint on one server. The token endpoint verifies the JWT
 * bearer assertion; `messages:send` requires the issued access token. Tokens starting `gone` get 404
 * UNREGISTERED, `busy` 503 UNAVAILABLE, others 200 with a message name.
 */
export async function startFcmLoopback(account: { email: string; publicKey: KeyObject }) {
  const messages: FcmRequest[] = [];
  let exchanges = 0;
  let base = '';
  const server = await startHttp(async (request) => {
    if (request.url === '/token') {
      const assertion = new URLSearchParams(request.body.toString()).get('assertion') ?? '';
      try {
        const { payload } = await jwtVerify(assertion, account.publicKey, {
          issuer: account.email,
          audience: `${base}/token`,
        });
        if (payload.scope !== 'https://www.googleapis.com/auth/firebase.messaging') throw new Error('scope');
      } catch {
        return { status: 400, body: { error: 'invalid_grant' } };
      }
      exchanges++;
      return {
        status: 200,
        body: { access_token: `fcm-access-${exchanges}`, expires_in: 3600, token_type: 'Bearer' },
      };
    }
    const match = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(request.url);
    if (!match || request.method !== 'POST') return { status: 404, body: { error: { status: 'NOT_FOUND' } } };
    if (!/^Bearer fcm-access-\d+$/.test(String(request.headers.authorization))) {
      return { status: 401, body: { error: { code: 401, status: 'UNAUTHENTICATED' } } };
    }
    const { message } = JSON.parse(request.body.toString()) as { message: Record<string, unknown> };
    const token = String(message.token);
    if (token.startsWith('gone')) {
      return {
        status: 404,
        body: {
          error: {
            code: 404,
            status: 'NOT_FOUND',
            message: 'Requested entity was not found.',
            details: [
              { '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' },
            ],
          },
        },
      };
    }
    if (token.startsWith('busy'))
      return { status: 503, body: { error: { code: 503, status: 'UNAVAILABLE' } } };
    messages.push({ projectId: decodeURIComponent(match[1] ?? ''), message, receivedAt: performance.now() });
    return { status: 200, body: { name: `projects/${match[1]}/messages/${messages.length}` } };
  });
  base = server.url;
  return { ...server, tokenUrl: `${server.url}/token`, messages, exchanges: () => exchanges };
}

/**
 * OneSignal's `POST /notifications`. Checks `Authorization: Key <api key>` and the app id; dedupes on
 * idempotency_key as OneSignal does. Subscriptions starting `gone` are reported in
 * `errors.invalid_player_ids`, `unsub` with "All included players are not subscribed" (both HTTP 200).
 */
export async function startOneSignalLoopback(input: { appId: string; apiKey: string }) {
  const requests: Array<Record<string, unknown>> = [];
  const seen = new Map<string, string>();
  const server = await startHttp(async (request) => {
    if (request.url !== '/notifications' || request.method !== 'POST')
      return { status: 404, body: { errors: ['not found'] } };
    if (request.headers.authorization !== `Key ${input.apiKey}`)
      return { status: 403, body: { errors: ['Access denied'] } };
    const body = JSON.parse(request.body.toString()) as Record<string, unknown>;
    if (body.app_id !== input.appId) return { status: 400, body: { errors: ['app_id not found'] } };
    requests.push(body);
    const key = String(body.idempotency_key ?? '');
    const repeat = seen.get(key);
    if (repeat) return { status: 200, body: { id: repeat } };
    const ids = (body.include_subscription_ids as string[]) ?? [];
    if (ids.some((id) => id.startsWith('gone'))) {
      return {
        status: 200,
        body: { id: '', errors: { invalid_player_ids: ids.filter((id) => id.startsWith('gone')) } },
      };
    }
    if (ids.some((id) => id.startsWith('unsub'))) {
      return { status: 200, body: { id: '', errors: ['All included players are not subscribed'] } };
    }
    const id = `os-${requests.length}`;
    seen.set(key, id);
    return { status: 200, body: { id } };
  });
  return { ...server, requests };
}

export type WebPushDelivery = {
  endpoint: string;
  headers: IncomingHttpHeaders;
  plaintext: Record<string, unknown>;
};

/** A browser's push subscription: its keys stay here so the loopback can decrypt like the browser. */
export function browserSubscription(endpoint: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x ?? '', 'base64url'),
    Buffer.from(jwk.y ?? '', 'base64url'),
  ]);
  const auth = Buffer.from('0123456789abcdef');
  const d = Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
  return {
    token: JSON.stringify({
      endpoint,
      keys: { p256dh: point.toString('base64url'), auth: auth.toString('base64url') },
    }),
    decrypt: (body: Buffer) => decryptPayload(body, d, auth),
  };
}

/** A VAPID key pair in the raw base64url form the config takes. */
export function vapidKeys(): { publicKey: string; privateKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pub = publicKey.export({ format: 'jwk' });
  return {
    publicKey: Buffer.concat([
      Buffer.from([4]),
      Buffer.from(pub.x ?? '', 'base64url'),
      Buffer.from(pub.y ?? '', 'base64url'),
    ]).toString('base64url'),
    privateKey: privateKey.export({ format: 'jwk' }).d ?? '',
  };
}

/**
 * A push service (RFC 8030) for Web Push. Verifies the VAPID header (JWT signed by the key in `k`,
 * `aud` = this origin), decrypts the aes128gcm body with the subscription's keys, and answers 201;
 * endpoints under /gone/ get 410.
 */
export async function startWebPushLoopback() {
  const deliveries: WebPushDelivery[] = [];
  const decrypters = new Map<string, (body: Buffer) => Buffer>();
  let origin = '';
  const server = await startHttp(async (request) => {
    const endpoint = `${origin}${request.url}`;
    if (request.url.startsWith('/gone/')) return { status: 410 };
    const match = /^vapid t=([^,]+), k=([A-Za-z0-9_-]+)$/.exec(String(request.headers.authorization));
    if (!match) return { status: 401 };
    try {
      const point = Buffer.from(match[2] ?? '', 'base64url');
      const key = createPublicKey({
        key: {
          kty: 'EC',
          crv: 'P-256',
          x: point.subarray(1, 33).toString('base64url'),
          y: point.subarray(33).toString('base64url'),
        },
        format: 'jwk',
      });
      await jwtVerify(match[1] ?? '', key, { audience: origin, algorithms: ['ES256'] });
    } catch {
      return { status: 403 };
    }
    if (request.headers['content-encoding'] !== 'aes128gcm') return { status: 415 };
    const decrypt = decrypters.get(endpoint);
    if (!decrypt) return { status: 404 };
    deliveries.push({
      endpoint,
      headers: request.headers,
      plaintext: JSON.parse(decrypt(request.body).toString()),
    });
    return { status: 201, headers: { location: `${origin}/messages/${deliveries.length}` } };
  });
  origin = server.url;
  return {
    ...server,
    deliveries,
    /** A subscription on this service whose pushes it can read. */
    subscribe(name: string) {
      const endpoint = `${origin}/push/${name}`;
      const subscription = browserSubscription(endpoint);
      decrypters.set(endpoint, subscription.decrypt);
      return subscription.token;
    },
  };
}
