import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import WebSocket from 'ws';
import { freePort } from '../src/platform/net/ports.ts';
import { percentile } from './bench-support.ts';
import { graphql } from './graphql-client.ts';

/** Latencies (ms) from publish to receipt at each subscriber, over all rounds. */
export type FanoutResult = {
  name: string;
  subscribers: number;
  rounds: number;
  deliveries: number;
  missing: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
};

const CONNECT_BATCH = 200;
const ROUND_TIMEOUT_MS = 30_000;

type Subscriber = { socket: WebSocket; onMessage: (handler: (text: string) => void) => void };

/** Opens `count` sockets in batches, each running `handshake` until it resolves. */
async function openSockets(
  count: number,
  open: () => WebSocket,
  handshake: (socket: WebSocket) => Promise<void>,
): Promise<Subscriber[]> {
  const subscribers: Subscriber[] = [];
  for (let start = 0; start < count; start += CONNECT_BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(CONNECT_BATCH, count - start) }, async () => {
        const socket = open();
        await new Promise<void>((resolve, reject) => {
          socket.once('open', () => resolve());
          socket.once('error', reject);
        });
        await handshake(socket);
        let handler: (text: string) => void = () => {};
        socket.on('message', (data: Buffer) => handler(data.toString()));
        return { socket, onMessage: (h: (text: string) => void) => (handler = h) };
      }),
    );
    subscribers.push(...batch);
  }
  return subscribers;
}

/**
 * Runs `rounds` broadcasts: each round sends one message through `publish(marker)` and waits until
 * every subscriber saw a message carrying that marker (or the round times out).
 */
async function measure(
  name: string,
  subscribers: Subscriber[],
  rounds: number,
  publish: (marker: string) => Promise<void>,
  markerOf: (text: string) => string | undefined,
): Promise<FanoutResult> {
  const latencies: number[] = [];
  let missing = 0;
  for (let round = 0; round < rounds; round++) {
    const marker = `round-${round}-${Date.now()}`;
    const started = performance.now();
    let pending = subscribers.length;
    const done = new Promise<void>((resolve) => {
      for (const subscriber of subscribers) {
        let seen = false;
        subscriber.onMessage((text) => {
          if (seen || markerOf(text) !== marker) return;
          seen = true;
          latencies.push(performance.now() - started);
          pending--;
          if (pending === 0) resolve();
        });
      }
    });
    await publish(marker);
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, ROUND_TIMEOUT_MS))]);
    missing += pending;
  }
  latencies.sort((a, b) => a - b);
  return {
    name,
    subscribers: subscribers.length,
    rounds,
    deliveries: latencies.length,
    missing,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? Number.NaN,
  };
}

/**
 * OLO's fan-out: `subscribers` sockets on one node subscribed to the announcements topic; each
 * round an admin publishes one over HTTP, through the configured pubsub backend, to every socket.
 * Latency runs from sending the mutation to each socket's receipt.
 */
export async function measureOloFanout(options: {
  baseUrl: string;
  token: string;
  subscribers: number;
  rounds: number;
}): Promise<FanoutResult> {
  const wsUrl = `${options.baseUrl.replace('http', 'ws')}/graphql`;
  const subscribers = await openSockets(
    options.subscribers,
    () => new WebSocket(wsUrl, 'graphql-transport-ws'),
    async (socket) => {
      const acked = new Promise<void>((resolve, reject) => {
        socket.once('message', (data: Buffer) =>
          JSON.parse(data.toString()).type === 'connection_ack'
            ? resolve()
            : reject(new Error(data.toString())),
        );
        socket.once('close', (code) => reject(new Error(`closed with ${code}`)));
      });
      socket.send(
        JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${options.token}` } }),
      );
      await acked;
      socket.send(
        JSON.stringify({
          id: '1',
          type: 'subscribe',
          payload: { query: 'subscription { announcements { message } }' },
        }),
      );
    },
  );
  const publish = async (marker: string) => {
    await graphql(options.baseUrl, 'mutation($m: String!) { publishAnnouncement(message: $m) { id } }', {
      token: options.token,
      variables: { m: marker },
    });
  };
  const markerOf = (text: string) => {
    const message = JSON.parse(text) as { payload?: { data?: { announcements?: { message?: string } } } };
    return message.payload?.data?.announcements?.message;
  };
  // Subscriptions register asynchronously: warm up until every socket has received one message.
  const warm = await measure('warm-up', subscribers, 1, publish, markerOf);
  if (warm.missing > 0) await measure('warm-up', subscribers, 1, publish, markerOf);
  try {
    return await measure(
      `OLO announcements (${options.subscribers} subscribers)`,
      subscribers,
      options.rounds,
      publish,
      markerOf,
    );
  } finally {
    for (const { socket } of subscribers) socket.terminate();
  }
}

/**
 * The ceiling: a bare `ws` server in its own process that sends each POSTed message to every
 * socket, with no GraphQL, authentication or pubsub in between.
 */
export async function measureBareBroadcast(options: {
  subscribers: number;
  rounds: number;
}): Promise<FanoutResult> {
  const port = await freePort();
  const server: ChildProcess = spawn(
    process.execPath,
    [path.join(import.meta.dirname, 'bare-broadcast-server.ts')],
    {
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.stdout?.once('data', () => resolve());
      server.once('exit', (code) => reject(new Error(`bare broadcast server exited with ${code}`)));
    });
    const subscribers = await openSockets(
      options.subscribers,
      () => new WebSocket(`ws://127.0.0.1:${port}/`),
      async () => {},
    );
    const publish = async (marker: string) => {
      const response = await fetch(`http://127.0.0.1:${port}/broadcast`, { method: 'POST', body: marker });
      await response.body?.cancel();
    };
    try {
      return await measure(
        `bare ws broadcast (${options.subscribers} subscribers)`,
        subscribers,
        options.rounds,
        publish,
        (text) => text,
      );
    } finally {
      for (const { socket } of subscribers) socket.terminate();
    }
  } finally {
    server.kill('SIGTERM');
  }
}
