import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, envSchema, loadConfig } from './config.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../../../../..');
const VARIABLES = Object.keys(envSchema.shape);

const readRepoFile = (name: string) => readFileSync(path.join(REPO_ROOT, name), 'utf8');

/** Names assigned in `.env.example`, whether active (`NAME=…`) or commented out (`# NAME=…`). */
function exampleVariables(text: string): string[] {
  return text
    .split('\n')
    .map((line) => /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(line.trim())?.[1])
    .filter((name): name is string => name !== undefined);
}

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('configuration is documented', () => {
  const example = exampleVariables(readRepoFile('.env.example'));
  const readme = readRepoFile('README.md');

  it.each(VARIABLES)('%s is in .env.example', (name) => {
    expect(example).toContain(name);
  });

  it.each(VARIABLES)('%s is in the README', (name) => {
    expect(readme).toContain(`\`${name}\``);
  });

  it('.env.example lists only variables the server reads, each once', () => {
    expect(example.filter((name) => !VARIABLES.includes(name))).toEqual([]);
    expect(new Set(example).size).toBe(example.length);
  });
});

describe('loadConfig', () => {
  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['NODE_ENV', 'staging'],
    ['DATABASE_URL', 'not-a-url'],
    ['PUBLIC_URL', 'olo.example.com'],
    ['LOGIN_THROTTLE_MAX_PER_IP', '0'],
    ['AUTH_ACCESS_TOKEN_TTL_SECONDS', '-5'],
    ['GRAPHIQL', 'yes'],
    ['LOG_LEVEL', 'verbose'],
    ['SMS_PROVIDER', 'twilio'],
  ])('refuses %s=%s with a one-line ConfigError naming the variable', (name, value) => {
    const error = configError({ [name]: value });
    expect(error.message).toContain(name);
    expect(error.message).not.toContain('\n');
  });

  it('gives working defaults for a bare machine', () => {
    const config = loadConfig({});
    expect(config.env).toBe('development');
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(4000);
    expect(config.publicUrl).toBe('http://localhost:4000');
    expect(config.auth.issuer).toBe(config.publicUrl);
    expect(config.database.url).toBeUndefined();
    expect(config.database.embeddedPort).toBe(54329);
    expect(config.database.embeddedDataDir).toBe('.data/postgres');
    expect(config.graphiql).toBe(true);
    expect(config.seedDemoData).toBe(true);
    expect(config.corsOrigins).toEqual([]);
    expect(config.auth.firebase).toBeUndefined();
    expect(config.sms.provider).toBe('local');
  });

  it('turns GraphiQL and demo data off in production unless asked for', () => {
    const secret = 's'.repeat(32);
    const production = loadConfig({
      NODE_ENV: 'production',
      AUTH_SIGNING_KEY_SECRET: secret,
      MEDIA_URL_SECRET: secret,
    });
    expect(production.graphiql).toBe(false);
    expect(production.seedDemoData).toBe(false);
    const asked = loadConfig({
      NODE_ENV: 'production',
      AUTH_SIGNING_KEY_SECRET: secret,
      MEDIA_URL_SECRET: secret,
      GRAPHIQL: 'true',
      SEED_DEMO_DATA: '1',
    });
    expect(asked.graphiql).toBe(true);
    expect(asked.seedDemoData).toBe(true);
    const off = loadConfig({ GRAPHIQL: 'false', SEED_DEMO_DATA: '0' });
    expect(off.graphiql).toBe(false);
    expect(off.seedDemoData).toBe(false);
  });

  it('requires a signing key secret in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(
      /^Invalid configuration: AUTH_SIGNING_KEY_SECRET: required when NODE_ENV=production$/,
    );
    expect(() => loadConfig({ AUTH_SIGNING_KEY_SECRET: 'short' })).toThrow(
      /AUTH_SIGNING_KEY_SECRET: must have at least 32/,
    );
  });

  it('requires a media URL secret in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', AUTH_SIGNING_KEY_SECRET: 's'.repeat(32) })).toThrow(
      /^Invalid configuration: MEDIA_URL_SECRET: required when NODE_ENV=production$/,
    );
    expect(() => loadConfig({ MEDIA_URL_SECRET: 'short' })).toThrow(
      /MEDIA_URL_SECRET: must have at least 32/,
    );
    expect(() =>
      loadConfig({ STORAGE_BACKEND: 's3', S3_ACCESS_KEY_ID: 'k', S3_SECRET_ACCESS_KEY: 's' }),
    ).toThrow(/^Invalid configuration: S3_BUCKET: required when STORAGE_BACKEND=s3$/);
  });

  it('treats empty values as unset', () => {
    const config = loadConfig({ PORT: '', DATABASE_URL: '', FIREBASE_PROJECT_ID: '' });
    expect(config.port).toBe(4000);
    expect(config.database.url).toBeUndefined();
    expect(config.auth.firebase).toBeUndefined();
  });

  it('uses PUBLIC_URL, without a trailing slash, as the token issuer', () => {
    const config = loadConfig({ PUBLIC_URL: 'https://api.olo.example/', PORT: '8080' });
    expect(config.publicUrl).toBe('https://api.olo.example');
    expect(config.auth.issuer).toBe('https://api.olo.example');
    expect(loadConfig({ PORT: '8080' }).auth.issuer).toBe('http://localhost:8080');
  });

  it('splits CORS_ORIGINS on commas', () => {
    const config = loadConfig({ CORS_ORIGINS: 'https://admin.olo.example, https://olo.example,' });
    expect(config.corsOrigins).toEqual(['https://admin.olo.example', 'https://olo.example']);
  });

  it('trusts Firebase only when FIREBASE_PROJECT_ID is set', () => {
    const config = loadConfig({ FIREBASE_PROJECT_ID: 'olo-prod' });
    expect(config.auth.firebase).toEqual({
      projectId: 'olo-prod',
      jwksUrl: 'https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com',
    });
    const custom = loadConfig({
      FIREBASE_PROJECT_ID: 'olo-prod',
      FIREBASE_JWKS_URL: 'http://127.0.0.1:9099/jwks',
    });
    expect(custom.auth.firebase?.jwksUrl).toBe('http://127.0.0.1:9099/jwks');
  });
});
