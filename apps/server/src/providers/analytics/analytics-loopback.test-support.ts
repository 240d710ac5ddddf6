import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as a vendor received it. */
export type ReceivedRequest = {
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
};

type Verdict = { status: number; body: unknown; keys?: Array<[string, unknown]> };

const HEX64 = /^[0-9a-f]{64}$/;
const SNAP_EVENTS = new Set([
  'SIGN_UP',
  'PURCHASE',
  'COMPLETE_TUTORIAL',
  'LOGIN',
  'SUBSCRIBE',
  'START_TRIAL',
]);

/**
 * Loopback servers that check requests the way each vendor documents them (auth, path, body shape,
 * hashed identifiers) and, like the vendors, count an event once per dedup key. `script` queues
 * answers for the next requests (e.g. a 503, a 400, or `hold` to never answer).
 */
export class VendorLoopback {
  readonly requests: ReceivedRequest[] = [];
  /** Accepted events by dedup key (Snapchat event_id, Amplitude insert_id, GA4 transaction_id, AppsFlyer olo_event_id). */
  readonly accepted = new Map<string, unknown>();
  private readonly scripted: Array<Verdict | 'hold'> = [];
  private readonly held: ServerResponse[] = [];
  private server: Server | undefined;
  private readonly check: (request: ReceivedRequest) => Verdict;
  url = '';

  constructor(check: VendorLoopback['check']) {
    this.check = check;
  }

  script(...answers: Array<Verdict | 'hold'>): void {
    this.scripted.push(...answers);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://loopback');
        let body: unknown = null;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = Buffer.concat(chunks).toString('utf8');
        }
        const request = { path: url.pathname, query: url.searchParams, headers: req.headers, body };
        this.requests.push(request);
        const next = this.scripted.shift();
        if (next === 'hold') {
          this.held.push(res);
          return;
        }
        const verdict = next ?? this.check(request);
        if (verdict.status >= 200 && verdict.status < 300 && verdict.keys) {
          for (const [key, value] of verdict.keys) if (!this.accepted.has(key)) this.accepted.set(key, value);
        }
        res.writeHead(verdict.status, { 'content-type': 'application/json' });
        res.end(verdict.body === undefined ? '' : JSON.stringify(verdict.body));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

const bad = (status: number, message: string): Verdict => ({
  status,
  body: { status: 'INVALID', reason: message },
});

/** Snapchat Conversions API v3: /v3/{appId}/events?access_token=…, `{ data: [...] }`, identifiers SHA-256. */
export function snapchatLoopback(appId: string, accessToken: string): VendorLoopback {
  return new VendorLoopback((r) => {
    if (r.path !== `/v3/${appId}/events`) return bad(404, 'unknown app id');
    if (r.query.get('access_token') !== accessToken) return bad(401, 'invalid access token');
    const data = (r.body as { data?: unknown })?.data;
    if (!Array.isArray(data) || data.length === 0 || data.length > 2000)
      return bad(400, 'data must be 1..2000 events');
    const keys: Array<[string, unknown]> = [];
    for (const event of data as Array<Record<string, unknown>>) {
      if (!SNAP_EVENTS.has(String(event.event_name))) return bad(400, 'unknown event_name');
      if (!Number.isInteger(event.event_time) || (event.event_time as number) > 1e11)
        return bad(400, 'event_time must be unix seconds');
      if (event.action_source !== 'MOBILE_APP') return bad(400, 'action_source');
      if (typeof event.event_id !== 'string') return bad(400, 'event_id required for dedup');
      const userData = event.user_data as Record<string, unknown> | undefined;
      if (!userData) return bad(400, 'user_data required');
      for (const field of ['em', 'ph', 'external_id']) {
        const values = userData[field];
        if (values === undefined) continue;
        if (!Array.isArray(values) || !values.every((v) => typeof v === 'string' && HEX64.test(v))) {
          return bad(400, `${field} must be SHA-256 hex`);
        }
      }
      if (event.event_name === 'PURCHASE') {
        const custom = event.custom_data as Record<string, unknown> | undefined;
        if (!custom || typeof custom.currency !== 'string' || Number.isNaN(Number(custom.value))) {
          return bad(400, 'PURCHASE needs custom_data.currency and value');
        }
      }
      keys.push([event.event_id, event]);
    }
    return { status: 200, body: { status: 'VALID', reason: '' }, keys };
  });
}

/** AppsFlyer S2S in-app events (api3): /inappevent/{appId}, `authentication: <S2S token>`. */
export function appsflyerLoopback(appId: string, s2sToken: string): VendorLoopback {
  return new VendorLoopback((r) => {
    if (r.path !== `/inappevent/${appId}`) return { status: 404, body: 'not found' };
    if (r.headers.authentication !== s2sToken) return { status: 401, body: 'Unauthorized' };
    const body = r.body as Record<string, unknown>;
    if (typeof body?.appsflyer_id !== 'string' || typeof body.eventName !== 'string') {
      return { status: 400, body: 'appsflyer_id and eventName are required' };
    }
    if (
      typeof body.eventTime === 'string' &&
      !/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/.test(body.eventTime)
    ) {
      return { status: 400, body: 'eventTime must be yyyy-MM-dd HH:mm:ss.SSS' };
    }
    let value: Record<string, unknown>;
    try {
      value =
        typeof body.eventValue === 'string'
          ? JSON.parse(body.eventValue)
          : (body.eventValue as Record<string, unknown>);
    } catch {
      return { status: 400, body: 'eventValue must be JSON' };
    }
    return { status: 200, body: 'ok', keys: [[String(value?.olo_event_id), body]] };
  });
}

/** Amplitude HTTP API V2: /2/httpapi, `{ api_key, events }`, dedup by insert_id. */
export function amplitudeLoopback(apiKey: string): VendorLoopback {
  return new VendorLoopback((r) => {
    if (r.path !== '/2/httpapi') return { status: 404, body: { code: 404 } };
    const body = r.body as { api_key?: unknown; events?: unknown };
    if (body?.api_key !== apiKey) return { status: 400, body: { code: 400, error: 'Invalid API key' } };
    if (!Array.isArray(body.events) || body.events.length === 0)
      return { status: 400, body: { code: 400, error: 'missing events' } };
    const keys: Array<[string, unknown]> = [];
    for (const event of body.events as Array<Record<string, unknown>>) {
      const id = (event.user_id ?? event.device_id) as unknown;
      if (typeof id !== 'string' || id.length < 5)
        return { status: 400, body: { code: 400, error: 'user_id too short' } };
      if (typeof event.event_type !== 'string' || !Number.isInteger(event.time)) {
        return { status: 400, body: { code: 400, error: 'event_type and time required' } };
      }
      keys.push([String(event.insert_id), event]);
    }
    return {
      status: 200,
      body: {
        code: 200,
        events_ingested: keys.length,
        payload_size_bytes: 1,
        server_upload_time: Date.now(),
      },
      keys,
    };
  });
}

/** GA4 Measurement Protocol: /mp/collect?measurement_id|firebase_app_id=…&api_secret=…; answers 204. */
export function ga4Loopback(
  stream: { measurementId?: string; firebaseAppId?: string },
  apiSecret: string,
): VendorLoopback {
  return new VendorLoopback((r) => {
    if (r.path !== '/mp/collect') return { status: 404, body: undefined };
    // GA4 answers 2xx even to bad requests; the loopback is stricter so tests catch mistakes.
    if (r.query.get('api_secret') !== apiSecret) return { status: 403, body: undefined };
    const body = r.body as Record<string, unknown>;
    if (stream.firebaseAppId) {
      if (
        r.query.get('firebase_app_id') !== stream.firebaseAppId ||
        typeof body.app_instance_id !== 'string'
      ) {
        return { status: 400, body: undefined };
      }
    } else if (r.query.get('measurement_id') !== stream.measurementId || typeof body.client_id !== 'string') {
      return { status: 400, body: undefined };
    }
    const events = body.events as Array<{ name?: unknown; params?: Record<string, unknown> }> | undefined;
    if (!Array.isArray(events) || events.length === 0 || events.length > 25)
      return { status: 400, body: undefined };
    return {
      status: 204,
      body: undefined,
      keys: events.map((e) => [String(e.params?.transaction_id), e] as [string, unknown]),
    };
  });
}
