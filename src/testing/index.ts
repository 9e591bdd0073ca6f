export { createMockAuthServer } from './mockAuthServer.js'
export type { IssuedTokens, MockAuthServer, MockAuthServerCounts, MockAuthServerOptions, RefreshAttempt, RefreshFailure } from './mockAuthServer.js'
