import type { IncomingMessage } from 'node:http';
import { normalizeIP } from '@fastify/rate-limit';
import {
  type DocumentNode,
  type ExecutionArgs,
  GraphQLError,
  type GraphQLSchema,
  parse,
  specifiedRules,
  validate,
} from 'graphql';
import { AppError } from '../errors/app-error.ts';
import { type OperationLimits, operationLimitsRule } from './complexity.ts';

/** Limits on GraphQL WebSockets; docs/api.md#limits says what a client gets for each. */
export type WebSocketLimits = {
  operation: OperationLimits;
  maxConnectionsPerUser: number;
  /** Connections from one address that are not signed in (yet): anonymous ones and those before `connection_init`. */
  maxConnectionsPerIp: number;
  /** Operations open at once on one connection: subscriptions, and queries and mutations while they run. */
  maxSubscriptionsPerConnection: number;
  maxMessageBytes: number;
};

/**
 * The client's address, as Fastify's `request.ip` finds it: the left-most `X-Forwarded-For` entry when
 * the proxy is trusted, else the peer.
 */
export function clientIp(request: IncomingMessage, trustProxy: boolean): string {
  const forwarded = request.headers['x-forwarded-for'];
  const first = trustProxy && typeof forwarded === 'string' ? forwarded.split(',')[0]?.trim() : undefined;
  return first || request.socket.remoteAddress || 'unknown';
}

type Slot = { kind: 'ip' | 'user'; key: string };

/**
 * Open connections per address (until signed in) and per account. A connection holds one slot at a
 * time; signing in moves it from its address to its account, closing it gives the slot back.
 */
export class ConnectionQuota {
  private readonly limits: Pick<WebSocketLimits, 'maxConnectionsPerUser' | 'maxConnectionsPerIp'>;
  private readonly counts = new Map<string, number>();
  private readonly held = new Map<object, Slot>();

  constructor(limits: Pick<WebSocketLimits, 'maxConnectionsPerUser' | 'maxConnectionsPerIp'>) {
    this.limits = limits;
  }

  /** A new socket; false when its address already has the most connections that are not signed in. */
  admitAnonymous(socket: object, ip: string): boolean {
    // Like the HTTP rate limits: an IPv6 client usually holds a whole /64, so that counts as one address.
    return this.take(socket, { kind: 'ip', key: normalizeIP(ip) }, this.limits.maxConnectionsPerIp);
  }

  /** `connection_init` signed the socket in; false when the account already has the most connections. */
  admitUser(socket: object, userId: string): boolean {
    // Authentication is awaited: a socket that closed (or was refused) meanwhile must not take a slot it never gives back.
    if (!this.held.has(socket)) return false;
    return this.take(socket, { kind: 'user', key: userId }, this.limits.maxConnectionsPerUser);
  }

  release(socket: object): void {
    const slot = this.held.get(socket);
    if (!slot) return;
    this.held.delete(socket);
    const name = `${slot.kind}:${slot.key}`;
    const left = (this.counts.get(name) ?? 1) - 1;
    if (left > 0) this.counts.set(name, left);
    else this.counts.delete(name);
  }

  private take(socket: object, slot: Slot, max: number): boolean {
    const name = `${slot.kind}:${slot.key}`;
    if ((this.counts.get(name) ?? 0) >= max) return false;
    this.release(socket);
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    this.held.set(socket, slot);
    return true;
  }
}

/**
 * What graphql-ws runs for a `subscribe` message: refused (the socket stays open) when the connection
 * has too many operations open, else parsed and validated with the same depth and cost rules as HTTP,
 * here with the operation's variables at hand.
 */
export function prepareOperation(
  schema: GraphQLSchema,
  payload: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null },
  limits: WebSocketLimits,
  openOperations: number,
): ExecutionArgs | readonly GraphQLError[] {
  if (openOperations > limits.maxSubscriptionsPerConnection) {
    const message = `Too many operations open on this connection (at most ${limits.maxSubscriptionsPerConnection}); complete one first`;
    return [new GraphQLError(message, { originalError: new AppError('RATE_LIMITED', message) })];
  }
  let document: DocumentNode;
  try {
    document = parse(payload.query);
  } catch (error) {
    if (error instanceof GraphQLError) return [error];
    throw error;
  }
  const rules = [...specifiedRules, operationLimitsRule(limits.operation, payload.variables ?? {})];
  const errors = validate(schema, document, rules);
  if (errors.length > 0) return errors;
  return {
    schema,
    document,
    operationName: payload.operationName ?? null,
    variableValues: payload.variables ?? null,
  };
}
