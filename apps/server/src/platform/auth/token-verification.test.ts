import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ISSUER, type TestApp } from '../../../test/app.ts';
import { errorCodes, gql } from '../../../test/graphql-client.ts';

const FIREBASE_PROJECT = 'olo-test-project';
const FIREBASE_ISSUER = `https://securetoken.google.com/${FIREBASE_PROJECT}`;
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
const ME = 'query { me { id roles activeRole } }';

describe('token verification', () => {
  let app: TestApp;
  let jwksServer: Server;
  let firebaseKey: PrivateKey;
  let strangerKey: PrivateKey;

  beforeAll(async () => {
    const firebase = await generateKeyPair('RS256', { extractable: true });
    firebaseKey = firebase.privateKey;
    strangerKey = (await generateKeyPair('ES256')).privateKey;
    const jwk = { ...(await exportJWK(firebase.publicKey)), kid: 'fb-key-1', alg: 'RS256', use: 'sig' };
    // Serves keys the way Google's securetoken JWKS endpoint does.
    jwksServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const port = (jwksServer.address() as AddressInfo).port;
    app = await startTestApp({
      env: { FIREBASE_PROJECT_ID: FIREBASE_PROJECT, FIREBASE_JWKS_URL: `http://127.0.0.1:${port}/jwks` },
    });
  });

  afterAll(async () => {
    await app?.close();
    jwksServer?.close();
  });

  const firebaseToken = (
    claims: Record<string, unknown> = {},
    options: { aud?: string; iss?: string; exp?: string } = {},
  ) =>
    new SignJWT({ auth_time: Math.floor(Date.now() / 1000) - 10, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'fb-key-1' })
      .setIssuer(options.iss ?? FIREBASE_ISSUER)
      .setAudience(options.aud ?? FIREBASE_PROJECT)
      .setSubject('firebase-uid-1')
      .setIssuedAt()
      .setExpirationTime(options.exp ?? '1h')
      .sign(firebaseKey);

  it('accepts a token it issued', async () => {
    const tokens = await app.signIn(['user', 'streamer']);
    const response = await gql(app.url, ME, {}, { token: tokens.accessToken });
    expect(response.errors).toBeUndefined();
    expect(response.data).toEqual({
      me: { id: tokens.userId, roles: ['user', 'streamer'], activeRole: 'streamer' },
    });
  });

  it('refuses a token signed with a key the issuer does not have (forged)', async () => {
    const tokens = await app.signIn();
    const [header, payload] = tokens.accessToken.split('.');
    const forged = await new SignJWT(JSON.parse(Buffer.from(payload as string, 'base64url').toString()))
      .setProtectedHeader(JSON.parse(Buffer.from(header as string, 'base64url').toString()))
      .sign(strangerKey);
    const response = await gql(app.url, ME, {}, { token: forged });
    expect(response.status).toBe(401);
    expect(response.errors?.[0]?.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      reason: 'invalid_signature',
    });
  });

  it('refuses a token whose payload was altered after signing', async () => {
    const tokens = await app.signIn();
    const [header, payload, signature] = tokens.accessToken.split('.');
    const claims = JSON.parse(Buffer.from(payload as string, 'base64url').toString());
    claims['https://hasura.io/jwt/claims']['x-hasura-allowed-roles'] = ['admin'];
    const tampered = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    const response = await gql(app.url, ME, {}, { token: tampered });
    expect(response.errors?.[0]?.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      reason: 'invalid_signature',
    });
  });

  it('refuses an expired token', async () => {
    const expired = await new SignJWT({ auth_time: 1 })
      .setProtectedHeader({ alg: 'RS256', kid: 'fb-key-1' })
      .setIssuer(FIREBASE_ISSUER)
      .setAudience(FIREBASE_PROJECT)
      .setSubject('firebase-uid-1')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(firebaseKey);
    const response = await gql(app.url, ME, {}, { token: expired });
    expect(response.status).toBe(401);
    expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'expired' });
  });

  it('refuses a token from an issuer it does not trust', async () => {
    const token = await firebaseToken({}, { iss: 'https://securetoken.google.com/someone-else' });
    const response = await gql(app.url, ME, {}, { token });
    expect(response.errors?.[0]?.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      reason: 'untrusted_issuer',
    });
  });

  it('refuses a token for another audience', async () => {
    const token = await firebaseToken({}, { aud: 'someone-else' });
    const response = await gql(app.url, ME, {}, { token });
    expect(response.errors?.[0]?.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      reason: 'invalid_claims',
    });
  });

  it('refuses an unsigned token (alg: none), even naming the trusted issuer', async () => {
    const tokens = await app.signIn(['user', 'admin']);
    const unsigned = new UnsecuredJWT({ sid: tokens.sessionId })
      .setIssuer(TEST_ISSUER)
      .setAudience('olo')
      .setSubject(tokens.userId)
      .setIssuedAt()
      .setExpirationTime('1h')
      .encode();
    const response = await gql(app.url, ME, {}, { token: unsigned });
    expect(response.status).toBe(401);
    expect(errorCodes(response)).toEqual(['UNAUTHENTICATED']);
  });

  it('verifies a Firebase token against the JWKS served on loopback and creates the account once', async () => {
    const first = await gql(app.url, ME, {}, { token: await firebaseToken() });
    expect(first.errors).toBeUndefined();
    const second = await gql(app.url, ME, {}, { token: await firebaseToken() });
    const firstMe = (first.data as { me: { id: string; roles: string[] } }).me;
    expect(firstMe.roles).toEqual(['user']);
    expect((second.data as { me: { id: string } }).me.id).toBe(firstMe.id);
    const identities = await app.database.handle.db
      .selectFrom('user.identities')
      .selectAll()
      .where('issuer', '=', FIREBASE_ISSUER)
      .execute();
    expect(identities).toHaveLength(1);
  });

  it('does not let a token take a role outside its allowed roles', async () => {
    const tokens = await app.signIn(['user', 'streamer']);
    const asStreamer = await gql(
      app.url,
      ME,
      {},
      { token: tokens.accessToken, headers: { 'x-hasura-role': 'user' } },
    );
    expect((asStreamer.data as { me: { activeRole: string } }).me.activeRole).toBe('user');
    const asAdmin = await gql(
      app.url,
      ME,
      {},
      { token: tokens.accessToken, headers: { 'x-hasura-role': 'admin' } },
    );
    expect(asAdmin.status).toBe(403);
    expect(errorCodes(asAdmin)).toEqual(['FORBIDDEN']);
  });

  it('bounds claimed roles by the roles the account holds', async () => {
    // A trusted issuer claims admin for a subject the database knows as a plain user.
    const token = await firebaseToken({
      'https://hasura.io/jwt/claims': {
        'x-hasura-allowed-roles': ['user', 'admin'],
        'x-hasura-default-role': 'admin',
      },
    });
    const response = await gql(app.url, ME, {}, { token });
    expect((response.data as { me: { activeRole: string; roles: string[] } }).me.activeRole).toBe('user');
    const rotate = await gql(
      app.url,
      'mutation { rotateSigningKey }',
      {},
      { token, headers: { 'x-hasura-role': 'admin' } },
    );
    expect(errorCodes(rotate)).toEqual(['FORBIDDEN']);
  });

  it('signs nothing out for a Firebase token unless asked for all devices', async () => {
    const token = await firebaseToken();
    const response = await gql(app.url, 'mutation { signOut }', {}, { token });
    expect(response.data).toEqual({ signOut: 0 });
  });

  it('honours a plain role claim', async () => {
    const token = await firebaseToken({ role: 'user' });
    const response = await gql(app.url, ME, {}, { token });
    expect((response.data as { me: { activeRole: string } }).me.activeRole).toBe('user');
  });

  it('refuses a malformed Authorization header', async () => {
    const response = await gql(app.url, ME, {}, { headers: { authorization: 'Token abc' } });
    expect(response.status).toBe(401);
    expect(errorCodes(response)).toEqual(['UNAUTHENTICATED']);
  });
});
