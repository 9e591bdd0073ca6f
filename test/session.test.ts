import { describe, expect, it } from 'vitest'
import { createSessionState, fromRecord, toRecord, type SessionState } from '../src/session.js'

const NOW = 1_800_000_000_000

function jwt(payload: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(payload)}.c2lnbmF0dXJl`
}

function state(tokens: Parameters<typeof createSessionState>[1], now = NOW) {
  return createSessionState('login', tokens, now)
}

describe('createSessionState', () => {
  it('expires at arrival time + expires_in on the local clock', () => {
    const token = jwt({ sub: 'ada' })
    const result = state({ accessToken: token, refreshToken: 'rt', expiresInSec: 300 })
    expect(result.session).toEqual({ accessToken: token, expiresAt: NOW + 300_000, claims: { sub: 'ada' } })
    expect(result.refreshToken).toBe('rt')
    expect(result.receivedAt).toBe(NOW)
  })

  it('ignores a client clock hours away from the server: only exp - iat may shorten the lifetime', () => {
    // The server's clock reads 3 hours earlier than ours; exp alone would look long expired.
    const serverNow = NOW / 1000 - 3 * 3600
    const token = jwt({ sub: 'ada', iat: serverNow, exp: serverNow + 120 })
    expect(state({ accessToken: token, refreshToken: undefined, expiresInSec: 300 }).session.expiresAt).toBe(NOW + 120_000)
  })

  it('a JWT exp never makes the expiry later than expires_in', () => {
    const token = jwt({ iat: NOW / 1000, exp: NOW / 1000 + 9_999 })
    expect(state({ accessToken: token, refreshToken: undefined, expiresInSec: 60 }).session.expiresAt).toBe(NOW + 60_000)
  })

  it('takes the lifetime from exp - iat when expires_in is missing', () => {
    const token = jwt({ iat: 100, exp: 400 })
    expect(state({ accessToken: token, refreshToken: undefined, expiresInSec: undefined }).session.expiresAt).toBe(NOW + 300_000)
  })

  it('falls back to exp on the local clock when it is all there is', () => {
    const token = jwt({ exp: NOW / 1000 + 90 })
    expect(state({ accessToken: token, refreshToken: undefined, expiresInSec: undefined }).session.expiresAt).toBe(NOW + 90_000)
  })

  it('ignores exp, nbf and iat that are not numbers', () => {
    const token = jwt({ sub: 'ada', exp: '1', iat: 'yesterday', nbf: { later: true } })
    expect(state({ accessToken: token, refreshToken: undefined, expiresInSec: 300 }).session.expiresAt).toBe(NOW + 300_000)
  })

  it('keeps an opaque token with claims {} when expires_in is given', () => {
    const result = state({ accessToken: 'opaque-token', refreshToken: undefined, expiresInSec: 60 })
    expect(result.session.claims).toEqual({})
    expect(result.session.expiresAt).toBe(NOW + 60_000)
  })

  it('refuses an opaque token without expires_in, and a JWT that says nothing of its expiry', () => {
    const invalid = expect.objectContaining({ code: 'invalid_response' })
    expect(() => state({ accessToken: 'opaque', refreshToken: undefined, expiresInSec: undefined })).toThrow(invalid)
    expect(() => state({ accessToken: jwt({ sub: 'x' }), refreshToken: undefined, expiresInSec: undefined })).toThrow(invalid)
  })

  it('refuses a token that is already expired', () => {
    const token = jwt({ iat: 100, exp: 100 })
    expect(() => state({ accessToken: token, refreshToken: undefined, expiresInSec: 60 })).toThrow(expect.objectContaining({ code: 'invalid_response' }))
  })
})

describe('records', () => {
  it('round-trips a session through its stored record, decoding the claims again', () => {
    const original = state({ accessToken: jwt({ sub: 'ada' }), refreshToken: 'rt', expiresInSec: 300 })
    const restored = fromRecord(JSON.parse(JSON.stringify(toRecord(original)))) as SessionState<unknown>
    expect(restored).toEqual(original)
  })

  it('omits the refresh token from the record when there is none', () => {
    const original = state({ accessToken: 'opaque', refreshToken: undefined, expiresInSec: 300 })
    expect(toRecord(original)).not.toHaveProperty('refreshToken')
  })

  it.each([
    ['null', null],
    ['a string', 'session'],
    ['an unknown version', { v: 2, accessToken: 'a', expiresAt: 2, receivedAt: 1 }],
    ['an empty access token', { v: 1, accessToken: '', expiresAt: 2, receivedAt: 1 }],
    ['a numeric refresh token', { v: 1, accessToken: 'a', refreshToken: 5, expiresAt: 2, receivedAt: 1 }],
    ['an expiry that is not a number', { v: 1, accessToken: 'a', expiresAt: '2', receivedAt: 1 }],
    ['an expiry before arrival', { v: 1, accessToken: 'a', expiresAt: 1, receivedAt: 2 }],
  ])('treats a record with %s as no session', (_, record) => {
    expect(fromRecord(record)).toBeUndefined()
  })
})
