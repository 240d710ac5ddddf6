import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../platform/clock.ts';
import {
  parseServiceAccount,
  ServiceAccountTokenError,
  ServiceAccountTokenSource,
} from './service-account-token.ts';

describe('Google service-account access tokens', () => {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const email = 'fcm@olo-test.iam.gserviceaccount.com';
  const credentials = parseServiceAccount(
    JSON.stringify({
      client_email: email,
      private_key: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      private_key_id: 'kid-1',
    }),
  );
  const exchanges: Array<{ scope: unknown; kid: unknown; exp: unknown; iat: unknown }> = [];
  let failNext = false;
  let server: Server;
  let tokenUrl = '';

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        void (async () => {
          const form = new URLSearchParams(Buffer.concat(chunks).toString());
          const assertion = form.get('assertion') ?? '';
          try {
            if (failNext) throw new Error('told to fail');
            // The real signature check, with the public half of the key the test made.
            const { payload } = await jwtVerify(assertion, keys.publicKey, {
              issuer: email,
              audience: tokenUrl,
            });
            exchanges.push({
              scope: payload.scope,
              kid: decodeProtectedHeader(assertion).kid,
              exp: payload.exp,
              iat: payload.iat,
            });
            response.writeHead(200, { 'content-type': 'application/json' });
            response.end(
              JSON.stringify({
                access_token: `token-${exchanges.length}`,
                expires_in: 3600,
                token_type: 'Bearer',
              }),
            );
          } catch {
            response.writeHead(400, { 'content-type': 'application/json' });
            response.end(JSON.stringify({ error: 'invalid_grant' }));
          }
        })();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('exchanges a signed JWT once, shares it between concurrent callers and renews it before expiry', async () => {
    const clock = manualClock(new Date());
    const source = new ServiceAccountTokenSource({
      credentials,
      scopes: ['https://www.googleapis.com/auth/firebase.messaging'],
      clock,
      tokenUrl,
    });
    const first = await Promise.all([source.accessToken(), source.accessToken(), source.accessToken()]);
    expect(new Set(first).size).toBe(1);
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]).toMatchObject({
      scope: 'https://www.googleapis.com/auth/firebase.messaging',
      kid: 'kid-1',
    });
    expect(Number(exchanges[0]?.exp) - Number(exchanges[0]?.iat)).toBe(3600);

    clock.advance(58 * 60 * 1000);
    expect(await source.accessToken()).toBe(first[0]);
    expect(exchanges).toHaveLength(1);
    // Within the last minute of its life the token is renewed.
    clock.advance(90 * 1000);
    const renewed = await source.accessToken();
    expect(renewed).not.toBe(first[0]);
    expect(exchanges).toHaveLength(2);

    source.invalidate();
    failNext = true;
    await expect(source.accessToken()).rejects.toBeInstanceOf(ServiceAccountTokenError);
    failNext = false;
    expect(await source.accessToken()).toBe('token-3');
  });

  it('refuses a key file that is not a service-account key', () => {
    expect(() => parseServiceAccount('{')).toThrow(ServiceAccountTokenError);
    expect(() => parseServiceAccount(JSON.stringify({ client_email: email }))).toThrow(/private_key/);
  });
});
