import { describe, expect, expectTypeOf, it } from 'vitest'
import { AuthError, isAuthError, type AuthErrorCode } from '../src/index.js'

describe('AuthError', () => {
  it('carries its code, status, name and cause', () => {
    const cause = new Error('socket hang up')
    const error = new AuthError('network', 'refresh: POST https://x.test/auth/refresh failed', { cause, status: 502 })
    expect(error).toBeInstanceOf(Error)
    expect(error.name).toBe('AuthError')
    expect(error.code).toBe('network')
    expect(error.status).toBe(502)
    expect(error.cause).toBe(cause)
  })

  it('has a code from a string-literal union', () => {
    expectTypeOf<AuthError['code']>().toEqualTypeOf<AuthErrorCode>()
    expectTypeOf<'session_expired'>().toMatchTypeOf<AuthErrorCode>()
  })
})

describe('isAuthError', () => {
  it('recognises an AuthError from another realm by its name and code', () => {
    const foreign = Object.assign(new Error('x'), { name: 'AuthError', code: 'server' })
    expect(isAuthError(foreign)).toBe(true)
  })

  it('rejects plain errors and non-errors', () => {
    expect(isAuthError(new Error('x'))).toBe(false)
    expect(isAuthError({ name: 'AuthError', code: 'server' })).toBe(false)
    expect(isAuthError(null)).toBe(false)
  })
})
