import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, jwtVerify, SignJWT } from 'jose';

/** One purchase as the Android Publisher API knows it (`ProductPurchase`). */
export type FakePurchase = {
  productId: string;
  orderId?: string;
  purchaseState: 0 | 1 | 2;
  consumptionState: 0 | 1;
  obfuscatedExternalAccountId?: string;
  regionCode?: string;
};

const readBody = async (request: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

/**
 * Google, on loopback, for tests: the OAuth2 token endpoint (checks the service-account JWT's
 * signature with the public key of the key pair made here), the Android Publisher
 * purchases.products get/consume endpoints (check the bearer token it issued) and a JWKS with the
 * key that signs Pub/Sub push OIDC tokens.
 */
export class GoogleLoopback {
  readonly packageName = 'com.olo.test';
  readonly clientEmail = 'play-api@olo-test.iam.gserviceaccount.com';
  readonly pushEmail = 'pubsub-push@olo-test.iam.gserviceaccount.com';
  readonly purchases = new Map<string, FakePurchase>();
  readonly consumeCalls: string[] = [];
  /** The next this many consume calls answer 503 (Google having a bad moment). */
  failConsumes = 0;
  readonly tokenExchanges: Array<{ scope: unknown; issuer: unknown }> = [];
  private readonly issuedTokens = new Set<string>();
  private readonly serviceAccountKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  readonly pushSigningKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    const server = createServer((request, response) => {
      void this.handle(request).then(
        ({ status, body }) => {
          response.writeHead(status, { 'content-type': 'application/json' });
          response.end(JSON.stringify(body));
        },
        (error: unknown) => {
          response.writeHead(500, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ error: String(error) }));
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  get tokenUrl(): string {
    return `${this.url}/token`;
  }

  serviceAccountJson(): string {
    return JSON.stringify({
      type: 'service_account',
      client_email: this.clientEmail,
      private_key: this.serviceAccountKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      private_key_id: 'test-key-1',
      token_uri: 'https://oauth2.googleapis.com/token',
    });
  }

  env(audience: string): Record<string, string> {
    return {
      GOOGLE_PLAY_PACKAGE_NAME: this.packageName,
      GOOGLE_SERVICE_ACCOUNT_JSON: this.serviceAccountJson(),
      GOOGLE_PLAY_API_URL: this.url,
      GOOGLE_OAUTH_TOKEN_URL: this.tokenUrl,
      GOOGLE_RTDN_AUDIENCE: audience,
      GOOGLE_RTDN_SERVICE_ACCOUNT_EMAIL: this.pushEmail,
      GOOGLE_OIDC_JWKS_URL: `${this.url}/certs`,
    };
  }

  /** An OIDC ID token as Pub/Sub attaches to a push (or a forged one with another key). */
  async pushToken(audience: string, options: { key?: KeyObject; email?: string } = {}): Promise<string> {
    return new SignJWT({ email: options.email ?? this.pushEmail, email_verified: true })
      .setProtectedHeader({ alg: 'RS256', kid: 'push-key' })
      .setIssuer('https://accounts.google.com')
      .setAudience(audience)
      .setSubject('1234567890')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(options.key ?? this.pushSigningKey.privateKey);
  }

  /** A Pub/Sub push body around a DeveloperNotification. */
  pushBody(notification: Record<string, unknown>, messageId = randomUUID()) {
    const data = Buffer.from(
      JSON.stringify({
        version: '1.0',
        packageName: this.packageName,
        eventTimeMillis: String(Date.now()),
        ...notification,
      }),
    ).toString('base64');
    return {
      message: { data, messageId, publishTime: new Date().toISOString() },
      subscription: 'projects/olo/subscriptions/rtdn',
    };
  }

  private async handle(request: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const url = new URL(request.url ?? '/', this.url);
    if (request.method === 'GET' && url.pathname === '/certs') {
      const jwk = await exportJWK(this.pushSigningKey.publicKey);
      return { status: 200, body: { keys: [{ ...jwk, kid: 'push-key', alg: 'RS256', use: 'sig' }] } };
    }
    if (request.method === 'POST' && url.pathname === '/token') {
      const form = new URLSearchParams(await readBody(request));
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
        return { status: 400, body: { error: 'unsupported_grant_type' } };
      }
      try {
        const { payload } = await jwtVerify(form.get('assertion') ?? '', this.serviceAccountKey.publicKey, {
          issuer: this.clientEmail,
          audience: this.tokenUrl,
          algorithms: ['RS256'],
        });
        this.tokenExchanges.push({ scope: payload.scope, issuer: payload.iss });
      } catch {
        return { status: 400, body: { error: 'invalid_grant' } };
      }
      const token = `ya29.${randomUUID()}`;
      this.issuedTokens.add(token);
      return { status: 200, body: { access_token: token, expires_in: 3599, token_type: 'Bearer' } };
    }
    const match =
      /^\/androidpublisher\/v3\/applications\/([^/]+)\/purchases\/products\/([^/]+)\/tokens\/([^/:]+)(:consume)?$/.exec(
        url.pathname,
      );
    if (!match) return { status: 404, body: { error: { code: 404 } } };
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (!bearer || !this.issuedTokens.has(bearer)) return { status: 401, body: { error: { code: 401 } } };
    const [, pkg, productId, rawToken, consume] = match;
    const token = decodeURIComponent(rawToken ?? '');
    const purchase = this.purchases.get(token);
    if (pkg !== this.packageName || !purchase || purchase.productId !== decodeURIComponent(productId ?? '')) {
      return { status: 404, body: { error: { code: 404, message: 'The purchase token does not exist.' } } };
    }
    if (consume) {
      if (request.method !== 'POST') return { status: 405, body: {} };
      if (this.failConsumes > 0) {
        this.failConsumes--;
        return { status: 503, body: { error: { code: 503 } } };
      }
      if (purchase.consumptionState === 1)
        return { status: 400, body: { error: { code: 400, message: 'already consumed' } } };
      purchase.consumptionState = 1;
      this.consumeCalls.push(token);
      return { status: 200, body: {} };
    }
    return {
      status: 200,
      body: {
        kind: 'androidpublisher#productPurchase',
        purchaseTimeMillis: String(Date.now()),
        purchaseState: purchase.purchaseState,
        consumptionState: purchase.consumptionState,
        ...(purchase.orderId ? { orderId: purchase.orderId } : {}),
        acknowledgementState: 0,
        productId: purchase.productId,
        quantity: 1,
        ...(purchase.obfuscatedExternalAccountId
          ? { obfuscatedExternalAccountId: purchase.obfuscatedExternalAccountId }
          : {}),
        regionCode: purchase.regionCode ?? 'US',
      },
    };
  }
}
