import { createHash } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import type { PushConfig } from '../../providers/push/create-push-providers.ts';
import type { VideoConfig } from '../../providers/video/create-video-providers.ts';
import { parseIceServers } from '../../providers/video/local-webrtc.provider.ts';
import { VIDEO_PROVIDER_NAMES } from '../../providers/video/video.provider.ts';

/** Relative data folders (MEDIA_STORAGE_DIR) are resolved against it, whatever the working directory. */
const REPO_ROOT = path.resolve(import.meta.dirname, '../../../../..');

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();

/**
 * Every environment variable the server reads. `.env.example` and the README table
 * must list the same names (a test checks it).
 */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(4000),
  PUBLIC_URL: z.url().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  CORS_ORIGINS: z.string().default(''),
  TRUST_PROXY: bool.default(false),
  GRAPHIQL: bool.optional(),
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
  // 15: the standard introspection query (GraphiQL, client tooling) nests that deep through `ofType`.
  GRAPHQL_MAX_DEPTH: positiveInt.default(15),
  // A full page (100 items) of 20 fields, each with a nested list of 10 × 2, stays under it; nested pages do not.
  GRAPHQL_MAX_COMPLEXITY: positiveInt.default(5000),
  HTTP_BODY_LIMIT_BYTES: positiveInt.default(1024 * 1024),
  RATE_LIMIT_PER_IP_PER_MINUTE: positiveInt.default(600),
  RATE_LIMIT_PER_USER_PER_MINUTE: positiveInt.default(1200),
  WS_MAX_CONNECTIONS_PER_USER: positiveInt.default(10),
  WS_MAX_CONNECTIONS_PER_IP: positiveInt.default(50),
  WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: positiveInt.default(50),

  DATABASE_URL: z.url().optional(),
  DATABASE_POOL_MAX: positiveInt.default(10),
  EMBEDDED_PG_PORT: port.default(54329),
  EMBEDDED_PG_DATA_DIR: z.string().min(1).default('.data/postgres'),
  SEED_DEMO_DATA: bool.optional(),
  REDIS_URL: z.url().optional(),

  JOBS_CONCURRENCY: positiveInt.default(5),
  JOBS_POLL_INTERVAL_MS: positiveInt.default(1_000),
  JOBS_STOP_TIMEOUT_MS: positiveInt.default(5_000),
  CRON_MISFIRE_GRACE_SECONDS: positiveInt.default(10),

  AUTH_AUDIENCE: z.string().min(1).default('olo'),
  AUTH_ACCESS_TOKEN_TTL_SECONDS: positiveInt.default(900),
  AUTH_REFRESH_TOKEN_TTL_SECONDS: positiveInt.default(60 * 60 * 24 * 30),
  AUTH_SIGNING_KEY_MAX_AGE_DAYS: positiveInt.default(30),
  AUTH_SIGNING_KEY_SECRET: z.string().min(32, 'must have at least 32 characters').optional(),
  FIREBASE_PROJECT_ID: z.string().min(1).optional(),
  FIREBASE_JWKS_URL: z
    .url()
    .default('https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com'),

  SMS_PROVIDER: z.enum(['local']).default('local'),
  OTP_TTL_SECONDS: positiveInt.default(300),
  LOGIN_THROTTLE_WINDOW_SECONDS: positiveInt.default(900),
  LOGIN_THROTTLE_MAX_PER_IDENTIFIER: positiveInt.default(5),
  LOGIN_THROTTLE_MAX_PER_IP: positiveInt.default(30),

  EVENT_LOG_POLL_INTERVAL_MS: positiveInt.default(5_000),
  EVENT_LOG_RETENTION_DAYS: positiveInt.default(90),
  EVENT_LOG_RETRY_BASE_MS: positiveInt.default(1_000),
  EVENT_LOG_RETRY_MAX_MS: positiveInt.default(300_000),
  EVENT_LOG_MAX_ATTEMPTS: positiveInt.default(10),

  PRESENCE_HEARTBEAT_SECONDS: positiveInt.default(10),
  PRESENCE_TTL_SECONDS: positiveInt.default(30),

  STORAGE_BACKEND: z.enum(['local', 's3']).default('local'),
  MEDIA_STORAGE_DIR: z.string().min(1).default('.data/media'),
  MEDIA_MAX_IMAGE_BYTES: positiveInt.default(10 * 1024 * 1024),
  MEDIA_MAX_VIDEO_BYTES: positiveInt.default(50 * 1024 * 1024),
  MEDIA_URL_SECRET: z.string().min(32, 'must have at least 32 characters').optional(),
  MEDIA_URL_TTL_SECONDS: positiveInt.default(300),
  S3_ENDPOINT: z.url().optional(),
  S3_BUCKET: z.string().min(1).optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: bool.default(true),

  PAYMENTS_SANDBOX: bool.optional(),
  APPLE_BUNDLE_ID: z.string().min(1).default('com.olo.app'),
  APPLE_APP_APPLE_ID: positiveInt.optional(),
  APPLE_ENVIRONMENT: z.enum(['Production', 'Sandbox']).default('Production'),
  APPLE_ROOT_CERTIFICATES: z.string().min(1).optional(),
  APPLE_ONLINE_CHECKS: bool.default(true),
  GOOGLE_PLAY_PACKAGE_NAME: z.string().min(1).optional(),
  GOOGLE_SERVICE_ACCOUNT_JSON: z.string().min(1).optional(),
  GOOGLE_PLAY_API_URL: z.url().default('https://androidpublisher.googleapis.com'),
  GOOGLE_OAUTH_TOKEN_URL: z.url().optional(),
  GOOGLE_RTDN_AUDIENCE: z.string().min(1).optional(),
  GOOGLE_RTDN_SERVICE_ACCOUNT_EMAIL: z.email().optional(),
  GOOGLE_RTDN_TOKEN: z.string().min(16, 'must have at least 16 characters').optional(),
  GOOGLE_OIDC_JWKS_URL: z.url().default('https://www.googleapis.com/oauth2/v3/certs'),

  FCM_PROJECT_ID: z.string().min(1).optional(),
  FCM_SERVICE_ACCOUNT_JSON: z.string().min(1).optional(),
  FCM_API_URL: z.url().default('https://fcm.googleapis.com'),
  ONESIGNAL_APP_ID: z.string().min(1).optional(),
  ONESIGNAL_REST_API_KEY: z.string().min(1).optional(),
  ONESIGNAL_API_URL: z.url().default('https://api.onesignal.com'),
  APNS_TEAM_ID: z.string().min(1).optional(),
  APNS_KEY_ID: z.string().min(1).optional(),
  APNS_PRIVATE_KEY: z.string().includes('PRIVATE KEY').optional(),
  APNS_BUNDLE_ID: z.string().min(1).optional(),
  APNS_URL: z.url().default('https://api.push.apple.com'),
  APNS_CA_CERT: z.string().includes('BEGIN CERTIFICATE').optional(),
  VAPID_PUBLIC_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{86,88}$/, 'must be a base64url P-256 public key')
    .optional(),
  VAPID_PRIVATE_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{42,44}$/, 'must be a base64url P-256 private key')
    .optional(),
  VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:|https:)/, 'must be a mailto: or https: URL')
    .optional(),

  VIDEO_PROVIDERS: z
    .string()
    .default('local')
    .transform((v) => [
      ...new Set(
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    ])
    .pipe(z.array(z.enum(VIDEO_PROVIDER_NAMES)).min(1, 'must list at least one of agora, twilio, local')),
  VIDEO_ICE_SERVERS: z.string().default(''),
  AGORA_APP_ID: z
    .string()
    .regex(/^[0-9a-fA-F]{32}$/, 'must be the 32-character App ID')
    .optional(),
  AGORA_APP_CERTIFICATE: z
    .string()
    .regex(/^[0-9a-fA-F]{32}$/, 'must be the 32-character certificate')
    .optional(),
  AGORA_WEBHOOK_SECRET: z.string().min(1).optional(),
  AGORA_CUSTOMER_ID: z.string().min(1).optional(),
  AGORA_CUSTOMER_SECRET: z.string().min(1).optional(),
  AGORA_API_URL: z.url().default('https://api.sd-rtn.com'),
  TWILIO_ACCOUNT_SID: z
    .string()
    .regex(/^AC[0-9a-fA-F]{32}$/, 'must be an AC… account SID')
    .optional(),
  TWILIO_API_KEY_SID: z
    .string()
    .regex(/^SK[0-9a-fA-F]{32}$/, 'must be an SK… API key SID')
    .optional(),
  TWILIO_API_KEY_SECRET: z.string().min(1).optional(),
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  TWILIO_VIDEO_API_URL: z.url().default('https://video.twilio.com'),

  ADS_EVENT_SINK: bool.optional(),
  ADS_HTTP_TIMEOUT_MS: positiveInt.default(10_000),
  ADS_MAX_ATTEMPTS: positiveInt.default(8),
  ADS_RETRY_BASE_MS: positiveInt.default(30_000),
  ADS_ATTRIBUTION_WAIT_HOURS: positiveInt.default(72),
  SNAPCHAT_APP_ID: z.string().min(1).optional(),
  SNAPCHAT_ACCESS_TOKEN: z.string().min(1).optional(),
  SNAPCHAT_CAPI_URL: z.url().default('https://tr.snapchat.com'),
  APPSFLYER_APP_ID: z.string().min(1).optional(),
  APPSFLYER_S2S_TOKEN: z.string().min(1).optional(),
  APPSFLYER_S2S_URL: z.url().default('https://api3.appsflyer.com'),
  APPSFLYER_PUSH_TOKEN: z.string().min(16, 'must have at least 16 characters').optional(),
  APPSFLYER_PUSH_TOKEN_HEADER: z
    .string()
    .regex(/^(Authorization|X-[A-Za-z0-9_-]{1,28})$/i, 'Authorization or an X- header')
    .default('Authorization'),
  AMPLITUDE_API_KEY: z.string().min(1).optional(),
  AMPLITUDE_API_URL: z.url().default('https://api2.amplitude.com'),
  GA4_API_SECRET: z.string().min(1).optional(),
  GA4_MEASUREMENT_ID: z.string().min(1).optional(),
  GA4_FIREBASE_APP_ID: z.string().min(1).optional(),
  GA4_MP_URL: z.url().default('https://www.google-analytics.com'),
  APPHUD_WEBHOOK_TOKEN: z.string().min(16, 'must have at least 16 characters').optional(),
});

export type Env = z.infer<typeof envSchema>;

export type Config = {
  env: Env['NODE_ENV'];
  host: string;
  port: number;
  publicUrl: string;
  logLevel: Env['LOG_LEVEL'];
  corsOrigins: string[];
  trustProxy: boolean;
  graphiql: boolean;
  shutdownTimeoutMs: number;
  graphqlMaxDepth: number;
  /** API limits; docs/api.md#limits says what a client gets when it hits each. */
  limits: {
    graphqlMaxComplexity: number;
    httpBodyLimitBytes: number;
    rateLimitPerIpPerMinute: number;
    rateLimitPerUserPerMinute: number;
    wsMaxConnectionsPerUser: number;
    wsMaxConnectionsPerIp: number;
    wsMaxSubscriptionsPerConnection: number;
  };
  database: {
    url: string | undefined;
    poolMax: number;
    embeddedPort: number;
    embeddedDataDir: string;
  };
  seedDemoData: boolean;
  redisUrl: string | undefined;
  auth: {
    issuer: string;
    audience: string;
    accessTokenTtlSeconds: number;
    refreshTokenTtlSeconds: number;
    signingKeyMaxAgeDays: number;
    signingKeySecret: string | undefined;
    firebase: { projectId: string; jwksUrl: string } | undefined;
    otpTtlSeconds: number;
    throttle: { windowSeconds: number; maxPerIdentifier: number; maxPerIp: number };
  };
  sms: { provider: Env['SMS_PROVIDER'] };
  /** graphile-worker in this process; docs/timetable.md. */
  jobs: { concurrency: number; pollIntervalMs: number; stopTimeoutMs: number };
  cron: { misfireGraceSeconds: number };
  eventLog: {
    pollIntervalMs: number;
    retentionDays: number;
    retry: { baseMs: number; maxMs: number; maxAttempts: number };
  };
  /** Online status; docs/presence.md. */
  presence: { heartbeatSeconds: number; ttlSeconds: number };
  /** Uploaded files; docs/media.md. */
  media: {
    backend: Env['STORAGE_BACKEND'];
    /** Absolute: MEDIA_STORAGE_DIR resolved against the repository root. */
    localDir: string;
    maxImageBytes: number;
    maxVideoBytes: number;
    urlSecret: string;
    urlTtlSeconds: number;
    s3:
      | {
          endpoint: string | undefined;
          bucket: string;
          region: string;
          accessKeyId: string;
          secretAccessKey: string;
          forcePathStyle: boolean;
        }
      | undefined;
  };
  /** Push vendors; each one absent leaves its device tokens to the local outbox. docs/notifications.md. */
  push: PushConfig;
  video: VideoConfig;
  /** In-app purchases; docs/payments.md. */
  payments: {
    /** The local store that signs its own StoreKit-shaped transactions. */
    sandbox: boolean;
    apple: {
      bundleId: string;
      appAppleId: number | undefined;
      environment: Env['APPLE_ENVIRONMENT'];
      /** DER root certificates; Apple verification is off while empty. */
      roots: Buffer[];
      onlineChecks: boolean;
    };
    google:
      | {
          packageName: string;
          serviceAccountJson: string;
          apiUrl: string;
          tokenUrl: string | undefined;
        }
      | undefined;
    rtdn: {
      audience: string | undefined;
      serviceAccountEmail: string | undefined;
      sharedToken: string | undefined;
      jwksUrl: string;
    };
  };
  /** Attribution, postbacks and analytics vendors; docs/ads-and-analytics.md. Each vendor is off unless configured. */
  analytics: {
    /** The local event sink; undefined: on when no vendor is configured. */
    sink: boolean | undefined;
    httpTimeoutMs: number;
    maxAttempts: number;
    retryBaseMs: number;
    /** How long a delivery waits for the attribution it needs (the AppsFlyer id) before it is skipped. */
    attributionWaitMs: number;
    snapchat: { appId: string; accessToken: string; baseUrl: string } | undefined;
    /** S2S in-app events: the S2S token (Security Center), not the SDK's dev key, on api3. */
    appsflyer: { appId: string; s2sToken: string; baseUrl: string } | undefined;
    /** The AppsFlyer Push API authentication token and the header it arrives in; pushes are refused without it. */
    appsflyerPush: { token: string; header: string } | undefined;
    amplitude: { apiKey: string; baseUrl: string } | undefined;
    ga4:
      | ({ apiSecret: string; baseUrl: string } & (
          | { firebaseAppId: string; measurementId?: undefined }
          | { measurementId: string; firebaseAppId?: undefined }
        ))
      | undefined;
    apphudWebhookToken: string | undefined;
  };
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; throws a ConfigError whose message is one line naming the variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = envSchema.safeParse(present);
  if (!result.success) {
    const issue = result.error.issues[0];
    const name = issue?.path.join('.') ?? 'environment';
    const got = present[name] === undefined ? '' : ` (got ${JSON.stringify(present[name])})`;
    throw new ConfigError(`Invalid configuration: ${name}: ${issue?.message ?? 'invalid'}${got}`);
  }
  const e = result.data;
  if (present.APPSFLYER_DEV_KEY !== undefined) {
    // Ignoring it would turn AppsFlyer postbacks off without a word; its value is a secret, not echoed.
    throw new ConfigError(
      'Invalid configuration: APPSFLYER_DEV_KEY: renamed APPSFLYER_S2S_TOKEN (api3.appsflyer.com takes the S2S token from the Security Center, not the SDK dev key)',
    );
  }
  const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/$/, '');
  const production = e.NODE_ENV === 'production';
  if (production && !e.AUTH_SIGNING_KEY_SECRET) {
    // Without it the private signing keys sit in the database in clear: a database reader could mint tokens.
    throw new ConfigError(
      'Invalid configuration: AUTH_SIGNING_KEY_SECRET: required when NODE_ENV=production',
    );
  }
  if (production && !e.MEDIA_URL_SECRET) {
    // The development default is derived from public values: anyone could forge media URLs with it.
    throw new ConfigError('Invalid configuration: MEDIA_URL_SECRET: required when NODE_ENV=production');
  }
  if (e.STORAGE_BACKEND === 's3') {
    for (const name of ['S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'] as const) {
      if (!e[name]) throw new ConfigError(`Invalid configuration: ${name}: required when STORAGE_BACKEND=s3`);
    }
  }
  if (e.GOOGLE_PLAY_PACKAGE_NAME && !e.GOOGLE_SERVICE_ACCOUNT_JSON) {
    throw new ConfigError(
      'Invalid configuration: GOOGLE_SERVICE_ACCOUNT_JSON: required when GOOGLE_PLAY_PACKAGE_NAME is set',
    );
  }
  const appleRoots = (e.APPLE_ROOT_CERTIFICATES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => Buffer.from(s, 'base64'));
  if (appleRoots.length > 0 && e.APPLE_ENVIRONMENT === 'Production' && !e.APPLE_APP_APPLE_ID) {
    throw new ConfigError(
      'Invalid configuration: APPLE_APP_APPLE_ID: required when APPLE_ENVIRONMENT=Production',
    );
  }
  for (const [a, b] of [
    ['SNAPCHAT_APP_ID', 'SNAPCHAT_ACCESS_TOKEN'],
    ['APPSFLYER_APP_ID', 'APPSFLYER_S2S_TOKEN'],
  ] as const) {
    if (Boolean(e[a]) !== Boolean(e[b])) {
      throw new ConfigError(`Invalid configuration: ${e[a] ? b : a}: required when ${e[a] ? a : b} is set`);
    }
  }
  if (e.GA4_API_SECRET && !e.GA4_MEASUREMENT_ID && !e.GA4_FIREBASE_APP_ID) {
    throw new ConfigError(
      'Invalid configuration: GA4_MEASUREMENT_ID: GA4_MEASUREMENT_ID or GA4_FIREBASE_APP_ID is required when GA4_API_SECRET is set',
    );
  }
  for (const [vendor, group] of [
    ['Agora', ['AGORA_APP_ID', 'AGORA_APP_CERTIFICATE']],
    ['Twilio', ['TWILIO_ACCOUNT_SID', 'TWILIO_API_KEY_SID', 'TWILIO_API_KEY_SECRET']],
  ] as const) {
    const missing = group.filter((key) => !e[key]);
    if (missing.length > 0 && missing.length < group.length) {
      throw new ConfigError(`Invalid configuration: ${missing[0]}: required for ${vendor} video`);
    }
  }
  for (const [name, key] of [
    ['agora', 'AGORA_APP_ID'],
    ['twilio', 'TWILIO_ACCOUNT_SID'],
  ] as const) {
    if (e.VIDEO_PROVIDERS.includes(name) && !e[key]) {
      throw new ConfigError(`Invalid configuration: ${key}: required when VIDEO_PROVIDERS lists ${name}`);
    }
  }
  for (const [vendor, group] of [
    ['FCM', ['FCM_PROJECT_ID', 'FCM_SERVICE_ACCOUNT_JSON']],
    ['OneSignal', ['ONESIGNAL_APP_ID', 'ONESIGNAL_REST_API_KEY']],
    ['APNs', ['APNS_TEAM_ID', 'APNS_KEY_ID', 'APNS_PRIVATE_KEY']],
    ['Web Push', ['VAPID_PUBLIC_KEY', 'VAPID_PRIVATE_KEY', 'VAPID_SUBJECT']],
  ] as const) {
    // Half of a vendor's settings is a mistake: say so rather than quietly using the local outbox.
    const missing = group.filter((key) => !e[key]);
    if (missing.length > 0 && missing.length < group.length) {
      throw new ConfigError(`Invalid configuration: ${missing[0]}: required for ${vendor} push`);
    }
  }
  if (e.PRESENCE_TTL_SECONDS <= e.PRESENCE_HEARTBEAT_SECONDS) {
    // A live node would be swept between two of its own heartbeats.
    throw new ConfigError(
      'Invalid configuration: PRESENCE_TTL_SECONDS: must be greater than PRESENCE_HEARTBEAT_SECONDS',
    );
  }
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    publicUrl,
    logLevel: e.LOG_LEVEL,
    corsOrigins: e.CORS_ORIGINS.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    trustProxy: e.TRUST_PROXY,
    graphiql: e.GRAPHIQL ?? !production,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    graphqlMaxDepth: e.GRAPHQL_MAX_DEPTH,
    limits: {
      graphqlMaxComplexity: e.GRAPHQL_MAX_COMPLEXITY,
      httpBodyLimitBytes: e.HTTP_BODY_LIMIT_BYTES,
      rateLimitPerIpPerMinute: e.RATE_LIMIT_PER_IP_PER_MINUTE,
      rateLimitPerUserPerMinute: e.RATE_LIMIT_PER_USER_PER_MINUTE,
      wsMaxConnectionsPerUser: e.WS_MAX_CONNECTIONS_PER_USER,
      wsMaxConnectionsPerIp: e.WS_MAX_CONNECTIONS_PER_IP,
      wsMaxSubscriptionsPerConnection: e.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION,
    },
    database: {
      url: e.DATABASE_URL,
      poolMax: e.DATABASE_POOL_MAX,
      embeddedPort: e.EMBEDDED_PG_PORT,
      embeddedDataDir: e.EMBEDDED_PG_DATA_DIR,
    },
    seedDemoData: e.SEED_DEMO_DATA ?? !production,
    redisUrl: e.REDIS_URL,
    auth: {
      issuer: publicUrl,
      audience: e.AUTH_AUDIENCE,
      accessTokenTtlSeconds: e.AUTH_ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: e.AUTH_REFRESH_TOKEN_TTL_SECONDS,
      signingKeyMaxAgeDays: e.AUTH_SIGNING_KEY_MAX_AGE_DAYS,
      signingKeySecret: e.AUTH_SIGNING_KEY_SECRET,
      firebase: e.FIREBASE_PROJECT_ID
        ? { projectId: e.FIREBASE_PROJECT_ID, jwksUrl: e.FIREBASE_JWKS_URL }
        : undefined,
      otpTtlSeconds: e.OTP_TTL_SECONDS,
      throttle: {
        windowSeconds: e.LOGIN_THROTTLE_WINDOW_SECONDS,
        maxPerIdentifier: e.LOGIN_THROTTLE_MAX_PER_IDENTIFIER,
        maxPerIp: e.LOGIN_THROTTLE_MAX_PER_IP,
      },
    },
    sms: { provider: e.SMS_PROVIDER },
    jobs: {
      concurrency: e.JOBS_CONCURRENCY,
      pollIntervalMs: e.JOBS_POLL_INTERVAL_MS,
      stopTimeoutMs: e.JOBS_STOP_TIMEOUT_MS,
    },
    cron: { misfireGraceSeconds: e.CRON_MISFIRE_GRACE_SECONDS },
    eventLog: {
      pollIntervalMs: e.EVENT_LOG_POLL_INTERVAL_MS,
      retentionDays: e.EVENT_LOG_RETENTION_DAYS,
      retry: {
        baseMs: e.EVENT_LOG_RETRY_BASE_MS,
        maxMs: e.EVENT_LOG_RETRY_MAX_MS,
        maxAttempts: e.EVENT_LOG_MAX_ATTEMPTS,
      },
    },
    presence: { heartbeatSeconds: e.PRESENCE_HEARTBEAT_SECONDS, ttlSeconds: e.PRESENCE_TTL_SECONDS },
    media: {
      backend: e.STORAGE_BACKEND,
      localDir: path.resolve(REPO_ROOT, e.MEDIA_STORAGE_DIR),
      maxImageBytes: e.MEDIA_MAX_IMAGE_BYTES,
      maxVideoBytes: e.MEDIA_MAX_VIDEO_BYTES,
      urlSecret:
        e.MEDIA_URL_SECRET ??
        createHash('sha256').update(`olo-development-media-url-secret:${publicUrl}`).digest('base64url'),
      urlTtlSeconds: e.MEDIA_URL_TTL_SECONDS,
      s3:
        e.STORAGE_BACKEND === 's3' && e.S3_BUCKET && e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY
          ? {
              endpoint: e.S3_ENDPOINT,
              bucket: e.S3_BUCKET,
              region: e.S3_REGION,
              accessKeyId: e.S3_ACCESS_KEY_ID,
              secretAccessKey: e.S3_SECRET_ACCESS_KEY,
              forcePathStyle: e.S3_FORCE_PATH_STYLE,
            }
          : undefined,
    },
    video: {
      priority: e.VIDEO_PROVIDERS,
      iceServers: parseIceServers(e.VIDEO_ICE_SERVERS),
      agora:
        e.AGORA_APP_ID && e.AGORA_APP_CERTIFICATE
          ? {
              appId: e.AGORA_APP_ID,
              appCertificate: e.AGORA_APP_CERTIFICATE,
              webhookSecret: e.AGORA_WEBHOOK_SECRET,
              customerId: e.AGORA_CUSTOMER_ID,
              customerSecret: e.AGORA_CUSTOMER_SECRET,
              apiUrl: e.AGORA_API_URL,
            }
          : undefined,
      twilio:
        e.TWILIO_ACCOUNT_SID && e.TWILIO_API_KEY_SID && e.TWILIO_API_KEY_SECRET
          ? {
              accountSid: e.TWILIO_ACCOUNT_SID,
              apiKeySid: e.TWILIO_API_KEY_SID,
              apiKeySecret: e.TWILIO_API_KEY_SECRET,
              authToken: e.TWILIO_AUTH_TOKEN,
              apiUrl: e.TWILIO_VIDEO_API_URL,
            }
          : undefined,
    },
    push: {
      fcm:
        e.FCM_PROJECT_ID && e.FCM_SERVICE_ACCOUNT_JSON
          ? {
              projectId: e.FCM_PROJECT_ID,
              serviceAccountJson: e.FCM_SERVICE_ACCOUNT_JSON,
              apiUrl: e.FCM_API_URL,
            }
          : undefined,
      oneSignal:
        e.ONESIGNAL_APP_ID && e.ONESIGNAL_REST_API_KEY
          ? { appId: e.ONESIGNAL_APP_ID, apiKey: e.ONESIGNAL_REST_API_KEY, apiUrl: e.ONESIGNAL_API_URL }
          : undefined,
      apns:
        e.APNS_TEAM_ID && e.APNS_KEY_ID && e.APNS_PRIVATE_KEY
          ? {
              url: e.APNS_URL,
              teamId: e.APNS_TEAM_ID,
              keyId: e.APNS_KEY_ID,
              // Env files hold one line: a literal \n stands for the PEM's line breaks.
              privateKeyPem: e.APNS_PRIVATE_KEY.replaceAll('\\n', '\n'),
              bundleId: e.APNS_BUNDLE_ID ?? e.APPLE_BUNDLE_ID,
              ...(e.APNS_CA_CERT ? { ca: e.APNS_CA_CERT.replaceAll('\\n', '\n') } : {}),
            }
          : undefined,
      webPush:
        e.VAPID_PUBLIC_KEY && e.VAPID_PRIVATE_KEY && e.VAPID_SUBJECT
          ? { publicKey: e.VAPID_PUBLIC_KEY, privateKey: e.VAPID_PRIVATE_KEY, subject: e.VAPID_SUBJECT }
          : undefined,
    },
    payments: {
      // Never on by default in production: it hands out coins for nothing.
      sandbox: e.PAYMENTS_SANDBOX ?? !production,
      apple: {
        bundleId: e.APPLE_BUNDLE_ID,
        appAppleId: e.APPLE_APP_APPLE_ID,
        environment: e.APPLE_ENVIRONMENT,
        roots: appleRoots,
        onlineChecks: e.APPLE_ONLINE_CHECKS,
      },
      google:
        e.GOOGLE_PLAY_PACKAGE_NAME && e.GOOGLE_SERVICE_ACCOUNT_JSON
          ? {
              packageName: e.GOOGLE_PLAY_PACKAGE_NAME,
              serviceAccountJson: e.GOOGLE_SERVICE_ACCOUNT_JSON,
              apiUrl: e.GOOGLE_PLAY_API_URL,
              tokenUrl: e.GOOGLE_OAUTH_TOKEN_URL,
            }
          : undefined,
      rtdn: {
        audience: e.GOOGLE_RTDN_AUDIENCE,
        serviceAccountEmail: e.GOOGLE_RTDN_SERVICE_ACCOUNT_EMAIL,
        sharedToken: e.GOOGLE_RTDN_TOKEN,
        jwksUrl: e.GOOGLE_OIDC_JWKS_URL,
      },
    },
    analytics: {
      sink: e.ADS_EVENT_SINK,
      httpTimeoutMs: e.ADS_HTTP_TIMEOUT_MS,
      maxAttempts: e.ADS_MAX_ATTEMPTS,
      retryBaseMs: e.ADS_RETRY_BASE_MS,
      attributionWaitMs: e.ADS_ATTRIBUTION_WAIT_HOURS * 3600_000,
      snapchat:
        e.SNAPCHAT_APP_ID && e.SNAPCHAT_ACCESS_TOKEN
          ? { appId: e.SNAPCHAT_APP_ID, accessToken: e.SNAPCHAT_ACCESS_TOKEN, baseUrl: e.SNAPCHAT_CAPI_URL }
          : undefined,
      appsflyer:
        e.APPSFLYER_APP_ID && e.APPSFLYER_S2S_TOKEN
          ? { appId: e.APPSFLYER_APP_ID, s2sToken: e.APPSFLYER_S2S_TOKEN, baseUrl: e.APPSFLYER_S2S_URL }
          : undefined,
      appsflyerPush: e.APPSFLYER_PUSH_TOKEN
        ? { token: e.APPSFLYER_PUSH_TOKEN, header: e.APPSFLYER_PUSH_TOKEN_HEADER.toLowerCase() }
        : undefined,
      amplitude: e.AMPLITUDE_API_KEY
        ? { apiKey: e.AMPLITUDE_API_KEY, baseUrl: e.AMPLITUDE_API_URL }
        : undefined,
      ga4: !e.GA4_API_SECRET
        ? undefined
        : e.GA4_FIREBASE_APP_ID
          ? { apiSecret: e.GA4_API_SECRET, baseUrl: e.GA4_MP_URL, firebaseAppId: e.GA4_FIREBASE_APP_ID }
          : { apiSecret: e.GA4_API_SECRET, baseUrl: e.GA4_MP_URL, measurementId: e.GA4_MEASUREMENT_ID ?? '' },
      apphudWebhookToken: e.APPHUD_WEBHOOK_TOKEN,
    },
  };
}
