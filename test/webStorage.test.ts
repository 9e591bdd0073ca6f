import { afterEach, describe, expect, it, vi } from 'vitest'
import { webStorage } from '../src/index.js'

describe('webStorage', () => {
  afterEach(() => {
    globalThis.localStorage?.clear()
    globalThis.sessionStorage?.clear()
  })

  it("'local' reads and writes window.localStorage", () => {
    webStorage('local').setItem('k', 'v')
    expect(localStorage.getItem('k')).toBe('v')
    expect(webStorage('local').getItem('k')).toBe('v')
    webStorage('local').removeItem('k')
    expect(localStorage.getItem('k')).toBeNull()
  })

  it("'session' reads and writes window.sessionStorage", () => {
    webStorage('session').setItem('k', 'v')
    expect(sessionStorage.getItem('k')).toBe('v')
    expect(localStorage.getItem('k')).toBeNull()
  })

  it('refuses an unknown kind with a TypeError', () => {
    expect(() => webStorage('cloud' as never)).toThrow(TypeError)
  })

  it('can be created where there is no storage, and fails with a storage error when used', () => {
    vi.stubGlobal('localStorage', undefined)
    const storage = webStorage('local')
    expect(() => storage.getItem('k')).toThrow(expect.objectContaining({ code: 'storage' }))
  })
})
