export { createMockAuthServer } from './mockAuthServer.js'
export type { MockAuthServer, MockAuthServerCounts, MockAuthServerOptions, RefreshFailure } from './mockAuthServer.js'
