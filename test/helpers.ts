import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { createMockAuthServer, type MockAuthServerOptions } from '../src/testing/mockAuthServer.js'

export const BASE_URL = 'https://api.example.com'

/**
 * One mock auth server per test file, through MSW: unhandled requests fail the test, and each
 * test's `server.use()` twists are reset after it. `mock()` gives the current test's fresh server.
 */
export function useMockAuthServer(options: MockAuthServerOptions = {}) {
  let current = createMockAuthServer({ baseUrl: BASE_URL, ...options })
  const server = setupServer()
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
  afterEach(() => {
    server.resetHandlers()
    current = createMockAuthServer({ baseUrl: BASE_URL, ...options })
    server.use(...current.handlers)
  })
  afterAll(() => server.close())
  server.use(...current.handlers)
  return { server, mock: () => current }
}

/** The values an event emitted, in order. */
export function record<T>(subscribe: (listener: (payload: T) => void) => unknown): T[] {
  const seen: T[] = []
  subscribe((payload) => seen.push(payload))
  return seen
}

/** Every string an event payload or error holds, for "no token leaks" assertions. */
export function serialize(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message} ${serialize((value as { cause?: unknown }).cause ?? '')}`
  return JSON.stringify(value) ?? String(value)
}
