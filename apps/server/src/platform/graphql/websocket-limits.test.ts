import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from '../../../test/app.ts';
import { WS_CLOSE } from './websocket.ts';
import { ConnectionQuota } from './websocket-limits.ts';

type Message = { type: string; id?: string; payload?: unknown };

/** A graphql-transport-ws connection driven message by message, so a test sees exactly what the server sends. */
class RawConnection {
  readonly socket: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly inbox: Message[] = [];
  private waiting: (() => void) | undefined;

  constructor(url: string, headers: Record<string, string>) {
    this.socket = new WebSocket(url, 'graphql-transport-ws', { headers });
    this.socket.on('message', (data) => {
      this.inbox.push(JSON.parse(String(data)) as Message);
      this.waiting?.();
    });
    this.closed = new Promise((resolve) => {
      this.socket.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.waiting?.();
      });
    });
  }

  /** The next message matching `accept`; undefined once the socket has closed without one. */
  async next(accept: (message: Message) => boolean = () => true): Promise<Message | undefined> {
    for (;;) {
      const index = this.inbox.findIndex(accept);
      if (index >= 0) return this.inbox.splice(index, 1)[0];
      if (this.socket.readyState === WebSocket.CLOSED) return undefined;
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  send(message: Message): void {
    this.socket.send(JSON.stringify(message));
  }

  subscribe(id: string, query: string): void {
    this.send({ type: 'subscribe', id, payload: { query } });
  }
}

describe('ConnectionQuota', () => {
  it('moves a socket from its address to its account, and gives the slot back on release', () => {
    const quota = new ConnectionQuota({ maxConnectionsPerIp: 1, maxConnectionsPerUser: 1 });
    const [a, b, c] = [{}, {}, {}];
    expect(quota.admitAnonymous(a, '::ffff:10.0.0.1')).toBe(true);
    expect(quota.admitAnonymous(b, '10.0.0.1')).toBe(false);
    expect(quota.admitUser(a, 'alice')).toBe(true);
    expect(quota.admitAnonymous(b, '10.0.0.1')).toBe(true);
    expect(quota.admitUser(b, 'alice')).toBe(false);
    quota.release(a);
    expect(quota.admitUser(b, 'alice')).toBe(true);
    expect(quota.admitAnonymous(c, '10.0.0.1')).toBe(true);
  });

  it('gives no account slot to a socket that closed while it was authenticating', () => {
    const quota = new ConnectionQuota({ maxConnectionsPerIp: 5, maxConnectionsPerUser: 1 });
    const [gone, next] = [{}, {}];
    quota.admitAnonymous(gone, '10.0.0.2');
    quota.release(gone);
    expect(quota.admitUser(gone, 'bob')).toBe(false);
    quota.admitAnonymous(next, '10.0.0.2');
    expect(quota.admitUser(next, 'bob')).toBe(true);
  });
});

describe('WebSocket limits', () => {
  let app: TestApp;
  const open: RawConnection[] = [];

  /** Opens a socket from `ip` (X-Forwarded-For, trusted here) and sends connection_init. */
  async function connect(ip: string, token?: string): Promise<{ connection: RawConnection; acked: boolean }> {
    const connection = new RawConnection(app.wsUrl, { 'x-forwarded-for': ip });
    open.push(connection);
    await new Promise<void>((resolve, reject) => {
      connection.socket.once('open', () => resolve());
      connection.socket.once('error', reject);
    });
    connection.send({
      type: 'connection_init',
      payload: token ? { authorization: `Bearer ${token}` } : {},
    });
    const first = await connection.next();
    return { connection, acked: first?.type === 'connection_ack' };
  }

  beforeAll(async () => {
    app = await startTestApp({
      env: {
        TRUST_PROXY: 'true',
        WS_MAX_CONNECTIONS_PER_IP: '2',
        WS_MAX_CONNECTIONS_PER_USER: '2',
        WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: '2',
        GRAPHQL_MAX_DEPTH: '2',
        GRAPHQL_MAX_COMPLEXITY: '3',
      },
    });
  });
  afterEach(async () => {
    for (const connection of open.splice(0)) connection.socket.close();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('closes an address’s connection over WS_MAX_CONNECTIONS_PER_IP that is not signed in with 4429', async () => {
    const first = await connect('203.0.113.7');
    const second = await connect('203.0.113.7');
    expect([first.acked, second.acked]).toEqual([true, true]);
    const third = await connect('203.0.113.7');
    expect(third.acked).toBe(false);
    expect(await third.connection.closed).toEqual({
      code: WS_CLOSE.tooManyConnections,
      reason: 'Too many connections from this address',
    });
    expect((await connect('203.0.113.8')).acked).toBe(true);
    // A closed connection gives its place back.
    first.connection.socket.close();
    await first.connection.closed;
    expect((await connect('203.0.113.7')).acked).toBe(true);
  });

  it('closes an account’s connection over WS_MAX_CONNECTIONS_PER_USER with 4429', async () => {
    const [alice, bob] = [await app.signIn(), await app.signIn()];
    // Each from its own address, so only the account's count can refuse them.
    expect((await connect('198.51.100.1', alice.accessToken)).acked).toBe(true);
    expect((await connect('198.51.100.2', alice.accessToken)).acked).toBe(true);
    const third = await connect('198.51.100.3', alice.accessToken);
    expect(third.acked).toBe(false);
    expect(await third.connection.closed).toEqual({
      code: WS_CLOSE.tooManyConnections,
      reason: 'Too many connections for this account',
    });
    expect((await connect('198.51.100.4', bob.accessToken)).acked).toBe(true);
  });

  it('refuses a subscribe over WS_MAX_SUBSCRIPTIONS_PER_CONNECTION with RATE_LIMITED and keeps the socket', async () => {
    const tokens = await app.signIn();
    const { connection } = await connect('192.0.2.1', tokens.accessToken);
    const clock = 'subscription { serverClock(intervalMs: 100) }';
    connection.subscribe('1', clock);
    connection.subscribe('2', clock);
    expect(await connection.next((m) => m.id === '1' && m.type === 'next')).toBeDefined();
    expect(await connection.next((m) => m.id === '2' && m.type === 'next')).toBeDefined();
    connection.subscribe('3', clock);
    const refused = await connection.next((m) => m.id === '3');
    expect(refused).toMatchObject({ type: 'error', payload: [{ extensions: { code: 'RATE_LIMITED' } }] });
    // Completing one makes room on the same, still open, socket (messages are handled in order).
    connection.send({ type: 'complete', id: '1' });
    connection.subscribe('4', clock);
    expect(await connection.next((m) => m.id === '4' && m.type === 'next')).toBeDefined();
  });

  it('applies the depth and cost limits to operations over the socket', async () => {
    const { connection } = await connect('192.0.2.2');
    connection.subscribe('deep', '{ __schema { types { name } } }');
    const deep = await connection.next((m) => m.id === 'deep');
    expect(deep).toMatchObject({
      type: 'error',
      payload: [
        {
          message: 'Operation is too deep: depth 3 exceeds the limit of 2',
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        },
      ],
    });
    connection.subscribe('costly', '{ serverInfo { version time } __typename }');
    const costly = await connection.next((m) => m.id === 'costly');
    expect(costly).toMatchObject({
      type: 'error',
      payload: [{ message: expect.stringContaining('cost 4 exceeds the limit of 3') }],
    });
    connection.subscribe('fine', '{ serverInfo { version time } }');
    expect(await connection.next((m) => m.id === 'fine')).toMatchObject({ type: 'next' });
  });
});
