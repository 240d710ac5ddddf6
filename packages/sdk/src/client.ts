import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type DocumentNode, print } from 'graphql';
import { createClient, type Client as WsClient } from 'graphql-ws';
import {
  fromGraphQLErrors,
  fromHttpResponse,
  fromSubscriptionFailure,
  isCloseEvent,
  OloError,
} from './errors.ts';
import {
  RefreshSessionDocument,
  RequestPhoneCodeDocument,
  type RequestPhoneCodeMutation,
  SignInWithEmailDocument,
  type SignInWithEmailMutation,
  type SignInWithEmailMutationVariables,
  SignInWithPhoneDocument,
  type SignInWithPhoneMutation,
  type SignInWithPhoneMutationVariables,
  SignOutDocument,
  SignUpWithEmailDocument,
  type SignUpWithEmailMutation,
  type SignUpWithEmailMutationVariables,
} from './generated/graphql.ts';
import { accessTokenExpired, memoryTokenStore, type SessionTokens, type TokenStore } from './tokens.ts';

/** Close code the server uses when a socket's token expired or its session was signed out. */
const WS_UNAUTHENTICATED = 4401;
const WS_FORBIDDEN = 4403;
/** graphql-ws closes with this when connectionParams throws. */
const WS_CLIENT_ERROR = 4500;

export type OloClientOptions = {
  /** The GraphQL endpoint, e.g. `https://api.example.com/graphql`. */
  url: string;
  /** The GraphQL WebSocket endpoint; defaults to `url` with ws(s):. */
  wsUrl?: string;
  fetch?: typeof fetch;
  /** A WebSocket constructor, where there is no global one (or to use `ws`). */
  webSocketImpl?: unknown;
  tokens?: TokenStore;
  /** Acts as this role (`x-hasura-role`) instead of the account's default. */
  role?: string;
  /** Refresh this long before the access token expires (default 5 s). */
  refreshSkewMs?: number;
};

/** Optional variables may be left out; required ones may not. */
export type VariablesArg<V> = Record<string, never> extends V ? [variables?: V] : [variables: V];

export type OloClient = {
  readonly tokens: TokenStore;
  /** Runs a query or mutation over HTTP; throws OloError on any GraphQL error. */
  request<R, V>(document: TypedDocumentNode<R, V>, ...variables: VariablesArg<V>): Promise<R>;
  /** A subscription over WebSocket (graphql-transport-ws). Leaving the loop unsubscribes. */
  subscribe<R, V>(document: TypedDocumentNode<R, V>, ...variables: VariablesArg<V>): AsyncGenerator<R, void>;
  requestPhoneCode(phone: string): Promise<RequestPhoneCodeMutation['requestPhoneCode']>;
  signInWithPhone(input: SignInWithPhoneMutationVariables): Promise<SessionTokens>;
  signInWithEmail(input: SignInWithEmailMutationVariables): Promise<SessionTokens>;
  signUpWithEmail(input: SignUpWithEmailMutationVariables): Promise<SessionTokens>;
  /** Trades the stored refresh token for new tokens now. */
  refresh(): Promise<SessionTokens>;
  /** Signs out on the server (this device, or all) and forgets the tokens. Returns sessions closed. */
  signOut(options?: { allDevices?: boolean }): Promise<number>;
  /** Closes the WebSocket; the client can still make HTTP requests. */
  close(): Promise<void>;
};

type Json = Record<string, unknown>;

export function createOloClient(options: OloClientOptions): OloClient {
  const store = options.tokens ?? memoryTokenStore();
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const skewMs = options.refreshSkewMs ?? 5_000;
  const printed = new WeakMap<DocumentNode, string>();
  let refreshing: Promise<SessionTokens> | undefined;
  let ws: WsClient | undefined;
  /** Incremented on every acknowledged WebSocket connection. */
  let wsConnections = 0;
  /** Why the last WebSocket connection could not be opened by us (refresh failed). */
  let wsConnectError: unknown;
  let wsToken: string | null = null;

  const queryOf = (document: DocumentNode) => {
    let query = printed.get(document);
    if (query === undefined) {
      query = print(document);
      printed.set(document, query);
    }
    return query;
  };

  /** One POST. `accessToken` null sends no Authorization (sign-in and refresh are public). */
  async function post<R>(document: DocumentNode, variables: unknown, accessToken: string | null): Promise<R> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
    };
    if (accessToken) headers.authorization = `Bearer ${accessToken}`;
    if (options.role && accessToken) headers['x-hasura-role'] = options.role;
    let response: Response;
    try {
      response = await fetchImpl(options.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query: queryOf(document), variables: variables ?? {} }),
      });
    } catch (error) {
      throw new OloError({ message: `Cannot reach ${options.url}`, code: 'NETWORK_ERROR', cause: error });
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch (error) {
      if (!response.ok) throw fromHttpResponse(response.status, undefined);
      throw new OloError({
        message: 'Response is not JSON',
        code: 'BAD_RESPONSE',
        status: response.status,
        cause: error,
      });
    }
    const result = (typeof body === 'object' && body !== null ? body : {}) as Json;
    if (Array.isArray(result.errors) && result.errors.length > 0) {
      throw fromGraphQLErrors(result.errors, response.status);
    }
    if (!response.ok) throw fromHttpResponse(response.status, body);
    if (typeof result.data !== 'object' || result.data === null) {
      throw new OloError({ message: 'Response has no data', code: 'BAD_RESPONSE', status: response.status });
    }
    return result.data as R;
  }

  /**
   * Trades the refresh token for new tokens, once for all concurrent callers. `stale` is the access
   * token that failed: when the store already holds a newer, unexpired one, that one is returned.
   * `stale` null forces a refresh. A refused refresh token signs the client out.
   */
  function refreshTokens(stale: string | null): Promise<SessionTokens> {
    refreshing ??= (async () => {
      const current = await store.get();
      if (!current) {
        throw new OloError({
          message: 'Not signed in',
          code: 'UNAUTHENTICATED',
          details: { reason: 'signed_out' },
        });
      }
      if (
        stale !== null &&
        current.accessToken !== stale &&
        !accessTokenExpired(current, Date.now(), skewMs)
      ) {
        return current;
      }
      try {
        const data = await post<{ refreshSession: SessionTokens }>(
          RefreshSessionDocument,
          { refreshToken: current.refreshToken },
          null,
        );
        await store.set(data.refreshSession);
        return data.refreshSession;
      } catch (error) {
        if (error instanceof OloError && error.code === 'UNAUTHENTICATED') {
          const now = await store.get();
          if (now?.refreshToken === current.refreshToken) await store.set(null);
        }
        throw error;
      }
    })().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  /** The tokens to send now: the stored ones, refreshed first when they are about to expire. */
  async function currentTokens(): Promise<SessionTokens | null> {
    const tokens = await store.get();
    if (tokens && accessTokenExpired(tokens, Date.now(), skewMs)) return refreshTokens(tokens.accessToken);
    return tokens;
  }

  async function request<R, V>(document: TypedDocumentNode<R, V>, ...[variables]: VariablesArg<V>) {
    const tokens = await currentTokens();
    try {
      return await post<R>(document, variables, tokens?.accessToken ?? null);
    } catch (error) {
      const expired =
        error instanceof OloError && error.code === 'UNAUTHENTICATED' && error.reason === 'expired';
      if (!tokens || !expired) throw error;
      const fresh = await refreshTokens(tokens.accessToken);
      return post<R>(document, variables, fresh.accessToken);
    }
  }

  function socket(): WsClient {
    ws ??= createClient({
      url: options.wsUrl ?? options.url.replace(/^http/, 'ws'),
      ...(options.webSocketImpl ? { webSocketImpl: options.webSocketImpl } : {}),
      lazy: true,
      // Read when each connection opens, so a reconnect presents the refreshed token.
      connectionParams: async () => {
        wsConnectError = undefined;
        try {
          const tokens = await currentTokens();
          wsToken = tokens?.accessToken ?? null;
          const params: Json = {};
          if (tokens) params.authorization = `Bearer ${tokens.accessToken}`;
          if (tokens && options.role) params['x-hasura-role'] = options.role;
          return params;
        } catch (error) {
          wsConnectError = error;
          throw error;
        }
      },
      // A role the account lacks stays lacking; other closes (restarts, 1001) are retried.
      shouldRetry: (event) => isCloseEvent(event) && event.code !== WS_FORBIDDEN,
      on: {
        connected: () => {
          wsConnections++;
        },
      },
    });
    return ws;
  }

  async function* subscribe<R, V>(
    document: TypedDocumentNode<R, V>,
    ...[variables]: VariablesArg<V>
  ): AsyncGenerator<R, void> {
    const payload = { query: queryOf(document), variables: (variables ?? {}) as Json };
    let retriedAt: number | undefined;
    for (;;) {
      try {
        for await (const result of socket().iterate<R>(payload)) {
          if (result.errors && result.errors.length > 0) throw fromGraphQLErrors(result.errors);
          yield result.data as R;
        }
        return;
      } catch (failure) {
        // The close that follows a failed connectionParams (4500) hides why; report why.
        if (wsConnectError !== undefined && isCloseEvent(failure) && failure.code === WS_CLIENT_ERROR) {
          throw fromSubscriptionFailure(wsConnectError);
        }
        const unauthenticated = isCloseEvent(failure) && failure.code === WS_UNAUTHENTICATED;
        // Refresh and reconnect, unless the last refresh did not even lead to a connection.
        if (!unauthenticated || retriedAt === wsConnections) throw fromSubscriptionFailure(failure);
        retriedAt = wsConnections;
        try {
          await refreshTokens(wsToken);
        } catch (error) {
          throw fromSubscriptionFailure(error);
        }
      }
    }
  }

  /** Tokens for another identity: sockets opened for the previous one are closed. */
  async function useSession(tokens: SessionTokens | null): Promise<void> {
    await store.set(tokens);
    const previous = ws;
    ws = undefined;
    wsToken = null;
    await previous?.dispose();
  }

  async function signedIn(tokens: SessionTokens): Promise<SessionTokens> {
    await useSession(tokens);
    return tokens;
  }

  return {
    tokens: store,
    request,
    subscribe,
    requestPhoneCode: async (phone) =>
      (await post<RequestPhoneCodeMutation>(RequestPhoneCodeDocument, { phone }, null)).requestPhoneCode,
    signInWithPhone: async (input) =>
      signedIn((await post<SignInWithPhoneMutation>(SignInWithPhoneDocument, input, null)).signInWithPhone),
    signInWithEmail: async (input) =>
      signedIn((await post<SignInWithEmailMutation>(SignInWithEmailDocument, input, null)).signInWithEmail),
    signUpWithEmail: async (input) =>
      signedIn((await post<SignUpWithEmailMutation>(SignUpWithEmailDocument, input, null)).signUpWithEmail),
    refresh: () => refreshTokens(null),
    signOut: async (signOutOptions = {}) => {
      try {
        const data = await request(SignOutDocument, { allDevices: signOutOptions.allDevices ?? false });
        return data.signOut;
      } finally {
        await useSession(null);
      }
    },
    close: async () => {
      const previous = ws;
      ws = undefined;
      await previous?.dispose();
    },
  };
}
