/**
 * Fan-out for GraphQL subscriptions. Every backend delivers into the process's LocalHub, which
 * hands messages to the subscriptions open on this node; the backend decides how a message
 * published on one node reaches the others (not at all, PostgreSQL NOTIFY, or Redis).
 */
export type PubSubBackend = 'memory' | 'postgres' | 'redis';

export type PubSub = {
  readonly backend: PubSubBackend;
  publish(channel: string, message: unknown): Promise<void>;
  /**
   * Messages on `channel` until `signal` aborts (the subscription ends). Resolves once messages
   * published from now on will be received, on every node.
   */
  subscribe(channel: string, signal: AbortSignal): Promise<AsyncIterableIterator<unknown>>;
  close(): Promise<void>;
};

/** Channel names: one per user (only that user's subscriptions may open it), and named topics. */
export const channels = {
  user: (userId: string) => `user:${userId}`,
  topic: (name: string) => `topic:${name}`,
  /** Platform-internal: session ids that were signed out (closes their sockets on every node). */
  sessionsRevoked: 'system:sessions-revoked',
  /** Platform-internal: user ids that were banned (drops cached accounts, closes their sockets with 4403). */
  usersBanned: 'system:users-banned',
  /** Platform-internal: user ids whose roles or status changed (drops cached accounts on every node). */
  accountsChanged: 'system:accounts-changed',
} as const;

type Listener = (message: unknown) => void;

/** Per-process registry of open subscriptions, by channel. */
export class LocalHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly onFirst: (channel: string) => Promise<void> | void;
  private readonly ready = new Map<string, Promise<void>>();
  private readonly onLast: (channel: string) => void;
  private readonly maxQueue: number;

  constructor(
    options: {
      onFirst?: (channel: string) => Promise<void> | void;
      onLast?: (channel: string) => void;
      maxQueue?: number;
    } = {},
  ) {
    this.onFirst = options.onFirst ?? (() => {});
    this.onLast = options.onLast ?? (() => {});
    this.maxQueue = options.maxQueue ?? 1000;
  }

  dispatch(channel: string, message: unknown): void {
    for (const listener of this.listeners.get(channel) ?? []) listener(message);
  }

  channelsInUse(): string[] {
    return [...this.listeners.keys()];
  }

  async subscribe(channel: string, signal: AbortSignal): Promise<AsyncIterableIterator<unknown>> {
    const queue: unknown[] = [];
    let wake: (() => void) | undefined;
    let done = signal.aborted;
    const listener: Listener = (message) => {
      // A client that cannot keep up loses the oldest messages rather than the server's memory.
      if (queue.length >= this.maxQueue) queue.shift();
      queue.push(message);
      wake?.();
    };
    const finish = () => {
      if (done && !this.listeners.get(channel)?.has(listener)) return;
      done = true;
      const set = this.listeners.get(channel);
      if (set?.delete(listener) && set.size === 0) {
        this.listeners.delete(channel);
        this.ready.delete(channel);
        this.onLast(channel);
      }
      wake?.();
    };
    if (!done) {
      let set = this.listeners.get(channel);
      if (!set) {
        set = new Set();
        this.listeners.set(channel, set);
        this.ready.set(channel, Promise.resolve(this.onFirst(channel)));
      }
      set.add(listener);
      signal.addEventListener('abort', finish, { once: true });
      await this.ready.get(channel);
    }
    const iterator: AsyncIterableIterator<unknown> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        while (queue.length === 0 && !done) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
        if (queue.length > 0) return { value: queue.shift(), done: false };
        return { value: undefined, done: true };
      },
      return: async () => {
        finish();
        return { value: undefined, done: true };
      },
    };
    return iterator;
  }
}

/** One node: publish goes straight to this process's subscribers. */
export function createMemoryPubSub(): PubSub {
  const hub = new LocalHub();
  return {
    backend: 'memory',
    publish: async (channel, message) => hub.dispatch(channel, message),
    subscribe: (channel, signal) => hub.subscribe(channel, signal),
    close: async () => {},
  };
}
