import { describe, expect, it } from 'vitest'
import { AuthError, createAuthClient } from '../src/index.js'
import { oauth2 } from '../src/oauth2/index.js'
import type { AuthServer } from '../src/protocols/Protocol.js'
import { resolveOptions } from '../src/resolveOptions.js'

/** A protocol that resolves the given endpoint values through the client's AuthServer. */
const resolving = (values: string[], into: string[]) => ({
  connect(server: AuthServer) {
    into.push(...values.map((value) => server.url('endpoints.x', value)))
    return { id: 'x', refreshesWithoutToken: false, login: async () => ({ accessToken: '', refreshToken: undefined, expiresInSec: undefined }), refresh: async () => ({ accessToken: '', refreshToken: undefined, expiresInSec: undefined }), revoke: async () => false }
  },
})

describe('resolveOptions', () => {
  it("resolves a protocol's endpoint paths against a baseUrl with a path, as a prefix, and keeps absolute URLs", () => {
    const urls: string[] = []
    resolveOptions({ baseUrl: 'https://api.example.com/v1', protocol: resolving(['/auth/login', 'oauth/token', 'https://auth.example.com/renew'], urls) })
    expect(urls).toEqual(['https://api.example.com/v1/auth/login', 'https://api.example.com/v1/oauth/token', 'https://auth.example.com/renew'])
  })

  it("the json protocol takes endpoint paths and absolute URLs, and tabs pair on its refresh endpoint", () => {
    expect(resolveOptions({ baseUrl: 'https://api.example.com/v1' }).protocol.id).toBe('https://api.example.com/v1/auth/refresh')
    const { protocol } = resolveOptions({ baseUrl: 'https://api.example.com', endpoints: { login: '/session', refresh: 'https://auth.example.com/renew' } })
    expect(protocol.id).toBe('https://auth.example.com/renew')
  })

  it('allows the auth server and the page origins by default', () => {
    const { allowedOrigins } = resolveOptions({ baseUrl: 'https://api.example.com/v1' })
    expect([...allowedOrigins]).toEqual(['https://api.example.com', 'https://app.example.com'])
  })

  it('replaces the default origins with allowedOrigins, normalised', () => {
    const { allowedOrigins } = resolveOptions({
      baseUrl: 'https://api.example.com',
      allowedOrigins: ['https://data.example.com:443', 'http://localhost:8080'],
    })
    expect([...allowedOrigins]).toEqual(['https://data.example.com', 'http://localhost:8080'])
  })

  it.each([
    ['http://localhost:3000'],
    ['http://127.0.0.1:9999'],
    ['http://[::1]:8080'],
    ['https://api.example.com'],
  ])('accepts %s as baseUrl', (baseUrl) => {
    expect(() => resolveOptions({ baseUrl })).not.toThrow()
  })

  it('refuses a plain-http baseUrl that is not localhost with insecure_transport', () => {
    const attempt = () => createAuthClient({ baseUrl: 'http://api.example.com' })
    expect(attempt).toThrow(AuthError)
    expect(attempt).toThrow(expect.objectContaining({ code: 'insecure_transport' }))
  })

  it('refuses plain-http endpoints and allowed origins too', () => {
    expect(() => resolveOptions({ baseUrl: 'https://a.example.com', endpoints: { refresh: 'http://b.example.com/r' } })).toThrow(
      expect.objectContaining({ code: 'insecure_transport' }),
    )
    expect(() => resolveOptions({ baseUrl: 'https://a.example.com', allowedOrigins: ['http://b.example.com'] })).toThrow(
      expect.objectContaining({ code: 'insecure_transport' }),
    )
  })

  it('accepts plain http when the app opts in with allowInsecureHttp', () => {
    expect(() => resolveOptions({ baseUrl: 'http://auth.internal', allowInsecureHttp: true })).not.toThrow()
  })

  it.each([
    ['baseUrl', { baseUrl: 'not a url' }],
    ['baseUrl', { baseUrl: 'ftp://example.com' }],
    ['baseUrl', { baseUrl: 'https://user:secret@api.example.com' }],
    ['baseUrl', { baseUrl: 42 }],
    ['protocol', { baseUrl: 'https://a.example.com', protocol: 'soap' }],
    ['storage', { baseUrl: 'https://a.example.com', storage: {} }],
    ['storageKey', { baseUrl: 'https://a.example.com', storageKey: '' }],
    ['protocol', { baseUrl: 'https://a.example.com', protocol: 'oauth2' }],
    ['endpoints', { baseUrl: 'https://a.example.com', protocol: oauth2(), endpoints: { login: '/x' } }],
    ['endpoints.token', { baseUrl: 'https://a.example.com', protocol: oauth2({ endpoints: { token: 42 as never } }) }],
    ['credentials', { baseUrl: 'https://a.example.com', credentials: 'always' }],
    ['refreshMarginMs', { baseUrl: 'https://a.example.com', refreshMarginMs: -1 }],
    ['minTokenValidityMs', { baseUrl: 'https://a.example.com', minTokenValidityMs: Number.NaN }],
    ['requestTimeoutMs', { baseUrl: 'https://a.example.com', requestTimeoutMs: 0 }],
    ['retryMaxDelayMs', { baseUrl: 'https://a.example.com', retryMaxDelayMs: Infinity }],
    ['retryAttempts', { baseUrl: 'https://a.example.com', retryAttempts: 1.5 }],
    ['fetch', { baseUrl: 'https://a.example.com', fetch: 'fetch' }],
    ['clock', { baseUrl: 'https://a.example.com', clock: { now: () => 1 } }],
    ['allowInsecureHttp', { baseUrl: 'https://a.example.com', allowInsecureHttp: 'yes' }],
    ['endpoints.login', { baseUrl: 'https://a.example.com', endpoints: { login: '' } }],
    ['endpoints.signup', { baseUrl: 'https://a.example.com', endpoints: { signup: '/x' } }],
    ['allowedOrigins', { baseUrl: 'https://a.example.com', allowedOrigins: 'https://b.example.com' }],
    ['allowedOrigins[0]', { baseUrl: 'https://a.example.com', allowedOrigins: ['https://b.example.com/api'] }],
  ])('throws a TypeError naming the bad option %s', (name, options) => {
    const attempt = () => createAuthClient(options as never)
    expect(attempt).toThrow(TypeError)
    expect(attempt).toThrow(`"${name}"`)
  })

  it('does not echo credentials embedded in a bad baseUrl', () => {
    expect(() => resolveOptions({ baseUrl: 'https://user:hunter2@api.example.com' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
    )
  })
})
