import { afterEach, describe, expect, it, vi } from 'vitest'
import { cookieStorage } from '../src/index.js'

function clearCookies() {
  for (const part of document.cookie.split(';')) {
    const name = part.split('=')[0]?.trim()
    if (name) document.cookie = `${name}=; Path=/; Secure; Max-Age=0`
  }
}

describe('cookieStorage', () => {
  afterEach(clearCookies)

  it('writes a __Host- cookie with Secure, SameSite=Strict and Path=/', () => {
    const writes: string[] = []
    vi.stubGlobal('document', {
      get cookie() {
        return ''
      },
      set cookie(value: string) {
        writes.push(value)
      },
    })
    cookieStorage().setItem('tokenkeeper.session', '{"a":1}')
    expect(writes).toEqual(['__Host-tokenkeeper.session=%7B%22a%22%3A1%7D; Path=/; SameSite=Strict; Secure'])
  })

  it('reads back what it wrote, and removes it', () => {
    const storage = cookieStorage()
    storage.setItem('s', 'value with ; and = in it')
    expect(storage.getItem('s')).toBe('value with ; and = in it')
    storage.removeItem('s')
    expect(storage.getItem('s')).toBeNull()
  })

  it('uses a __Secure- name when a domain is set', () => {
    const storage = cookieStorage({ domain: 'app.example.com' })
    storage.setItem('s', 'v')
    expect(document.cookie).toContain('__Secure-s=v')
  })

  it('throws a storage error instead of writing a cookie over 4096 bytes', () => {
    const storage = cookieStorage()
    expect(() => storage.setItem('s', 'x'.repeat(4100))).toThrow(expect.objectContaining({ code: 'storage' }))
    expect(storage.getItem('s')).toBeNull()
  })

  it('refuses to work on a page that is not https', () => {
    vi.stubGlobal('location', new URL('http://app.example.com/'))
    expect(() => cookieStorage().setItem('s', 'v')).toThrow(expect.objectContaining({ code: 'storage' }))
  })

  it('works on http://localhost, a secure context', () => {
    vi.stubGlobal('location', new URL('http://localhost:5173/'))
    expect(() => cookieStorage().getItem('s')).not.toThrow()
  })

  it('reads a mangled cookie value as no value', () => {
    document.cookie = '__Host-s=%E0%A4%A; Path=/; Secure'
    expect(cookieStorage().getItem('s')).toBeNull()
  })

  it.each([
    [{ domain: 'example.com; Secure' }],
    [{ path: 5 as never }],
    [{ sameSite: 'Loose' as never }],
    [{ maxAgeSeconds: -5 }],
    [{ path: '/a; Domain=evil.io' }],
  ])('refuses invalid options %o with a TypeError', (options) => {
    expect(() => cookieStorage(options)).toThrow(TypeError)
  })
})
