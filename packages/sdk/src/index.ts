export { createOloClient, type OloClient, type OloClientOptions, type VariablesArg } from './client.ts';
export { OloError, type OloErrorCode, type OloGraphQLError } from './errors.ts';
export * from './generated/graphql.ts';
export { accessTokenExpired, memoryTokenStore, type SessionTokens, type TokenStore } from './tokens.ts';
