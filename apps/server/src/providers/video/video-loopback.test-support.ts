import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Loopback stand-ins for the video vendors' REST APIs (Agora's kicking rules and channel list,
 * Twilio's Rooms), checking the Basic credentials each documents, plus signers for their webhooks
 * written from the vendors' documentation (not with our verification code, so they check it).
 */
export type VendorRequest = { method: string; path: string; headers: IncomingHttpHeaders; body: string };

export class VideoVendorLoopback {
  readonly requests: VendorRequest[] = [];
  /** Answer with this status instead of 200 (to make the vendor look unhealthy). */
  failWith: number | null = null;
  private server: Server | undefined;
  private readonly expectedAuth: string;

  constructor(user: string, secret: string) {
    this.expectedAuth = `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      req.on('end', () => {
        this.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
        if (req.headers.authorization !== this.expectedAuth) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"unauthorized"}');
          return;
        }
        if (this.failWith) {
          res
            .writeHead(this.failWith, { 'content-type': 'application/json' })
            .end('{"message":"unavailable"}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** An Agora Notification Center callback: JSON body and its Agora-Signature-V2 (hex HMAC-SHA256). */
export function agoraNotice(
  secret: string,
  notice: {
    noticeId: string;
    eventType: number;
    channelName: string;
    uid?: number;
    reason?: number;
    ts: number;
  },
): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({
    noticeId: notice.noticeId,
    productId: 1,
    eventType: notice.eventType,
    notifyMs: notice.ts * 1000 + 5,
    sid: 'S1',
    payload: {
      channelName: notice.channelName,
      ts: notice.ts,
      ...(notice.uid === undefined ? {} : { uid: notice.uid, platform: 7, clientSeq: notice.ts }),
      ...(notice.reason === undefined ? {} : { reason: notice.reason }),
    },
  });
  const signature = createHmac('sha256', secret).update(body).digest('hex');
  return { body, headers: { 'content-type': 'application/json', 'agora-signature-v2': signature } };
}

/**
 * A Twilio status callback: form-encoded parameters and X-Twilio-Signature, computed as Twilio
 * documents it: base64(HMAC-SHA1(auth token, URL + each parameter name and value, sorted by name)).
 */
export function twilioCallback(
  authToken: string,
  url: string,
  params: Record<string, string>,
): { body: string; headers: Record<string, string> } {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, key) => acc + key + params[key], url);
  const signature = createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
  return {
    body: new URLSearchParams(params).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
  };
}

export const AGORA_TEST = {
  appId: '970ca35de60c44645bbae8a215061b33',
  appCertificate: '5cfd2fd1755d40ecb72977518be15d3b',
  webhookSecret: 'agora-ncs-secret',
  customerId: 'agora-customer',
  customerSecret: 'agora-customer-secret',
};

export const TWILIO_TEST = {
  accountSid: `AC${'1'.repeat(32)}`,
  apiKeySid: `SK${'2'.repeat(32)}`,
  apiKeySecret: 'twilio-api-key-secret',
  authToken: 'twilio-auth-token',
};
