// @vitest-environment node
import { afterEach, describe, expect, it, vi } from 'vitest'

describe('in Node, with no window', () => {
  afterEach(() => vi.useRealTimers())

  it('importing the package and creating a client neither throws nor starts a timer', async () => {
    expect(typeof (globalThis as { window?: unknown }).window).toBe('undefined')
    vi.useFakeTimers()
    const { createAuthClient } = await import('../src/index.js')
    const auth = createAuthClient({ baseUrl: 'https://api.example.com' })
    expect(await auth.ready).toBeNull()
    expect(vi.getTimerCount()).toBe(0)
    expect(await auth.getAccessToken()).toBeNull()
    auth.destroy()
  })

  it('with refreshTokenInCookie, a client created during SSR sends no request and starts no timer', async () => {
    vi.useFakeTimers()
    const { createAuthClient } = await import('../src/index.js')
    const fetch = vi.fn(() => Promise.resolve(new Response('{}')))
    const auth = createAuthClient({ baseUrl: 'https://api.example.com', refreshTokenInCookie: true, fetch })
    expect(await auth.ready).toBeNull()
    expect(fetch).not.toHaveBeenCalled()
    expect(vi.getTimerCount()).toBe(0)
    auth.destroy()
  })

  it('the built ESM and CJS bundles load in Node', async () => {
    // Paths in variables: the type check runs before the build, when dist/ may not exist yet.
    const built = '../dist/index.js'
    const esm = (await import(/* @vite-ignore */ built)) as typeof import('../src/index.js')
    expect(typeof esm.createAuthClient).toBe('function')
    const { createRequire } = await import('node:module')
    const cjs = createRequire(import.meta.url)('../dist/index.cjs') as typeof esm
    expect(typeof cjs.createAuthClient).toBe('function')
    expect(new cjs.AuthError('network', 'x').code).toBe('network')
  })
})
