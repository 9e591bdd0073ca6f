// Two sessions are ordered by their logins (`born`), across tabs: what an outside probe of that
// rule found, kept as regressions (each failed before its fix). A record from before births must
// not take its next refresh for its login; a record born after its own latest change is malformed.
import { http } from 'msw'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createAuthClient, type TokenStorage } from '../src/index.js'
import { BASE_URL, useMockAuthServer, useTabs } from './helpers.js'

const { server, mock } = useMockAuthServer()
const ADA = { username: 'ada', password: 'lovelace' }
const { openTab, openTabs, storageKey, channelName } = useTabs('session-birth')

/** A BroadcastChannel whose messages take `lag` ms (a busy tab's event loop), as a browser's may. */
let lag = 0
const Real = globalThis.BroadcastChannel
class Slow extends Real {
  override postMessage(message: unknown): void {
    if (lag) setTimeout(() => super.postMessage(message), lag)
    else super.postMessage(message)
  }
}
afterEach(() => {
  lag = 0
  vi.unstubAllGlobals()
})

/**
 * Holds revocations at the server until a refresh has come in (at most 2 s), then lets the mock
 * answer them: the order a slow network gives, without betting on how fast this machine is.
 */
function revocationsAfterTheNextRefresh(): void {
  const before = mock().counts.refresh
  server.use(
    http.post(`${BASE_URL}/auth/logout`, async () => {
      await vi.waitFor(() => expect(mock().counts.refresh).toBeGreaterThan(before), { timeout: 2_000 }).catch(() => undefined)
    }),
  )
}

const mapStorage = (): TokenStorage & { items: Map<string, string> } => {
  const items = new Map<string, string>()
  return { items, getItem: (k) => items.get(k) ?? null, setItem: (k, v) => void items.set(k, v), removeItem: (k) => void items.delete(k) }
}
const b64 = (value: object) => btoa(JSON.stringify(value)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')

describe('two sessions in two tabs are ordered by their logins', () => {
  for (const legacy of [true, false]) {
    it(`${legacy ? 'a record without born' : 'control: a record with born'}: a leader's first refresh crossing a login in another tab; every tab ends on the login`, async () => {
      vi.stubGlobal('BroadcastChannel', Slow)
      // S1, logged in by an earlier page, in A's storage.
      const storage = mapStorage()
      const earlier = createAuthClient({ baseUrl: BASE_URL, storageKey: storageKey(), storage, crossTab: false })
      await earlier.login(ADA)
      earlier.destroy()
      if (legacy) {
        for (const [key, value] of storage.items) {
          const parsed = JSON.parse(value)
          const strip = (r: Record<string, unknown>) => (delete r.born, delete r.gen, delete r.tab)
          if (parsed.record) strip(parsed.record)
          else strip(parsed)
          storage.items.set(key, JSON.stringify(parsed))
        }
      }
      const a = openTab({ storage })
      await a.ready
      const b = openTab()
      await b.ready
      await vi.waitFor(() => expect(b.getSession()?.accessToken).toBe(a.getSession()?.accessToken))
      const s1 = a.getSession()!.accessToken
  
      // B's revocation of S1 (the session its login replaces) reaches the server after A's refresh.
      revocationsAfterTheNextRefresh()
      lag = 200 // the two tabs' messages cross
      const s2 = await b.login(ADA)
      await new Promise((r) => setTimeout(r, 5))
      await a.refresh() // the leader's refresh timer fires: S1 refreshed, stamped after S2's login
      await new Promise((r) => setTimeout(r, 600))
      const held = () => [a.getSession()?.accessToken, b.getSession()?.accessToken].map((t) => (t === s2.accessToken ? 'login S2' : t === s1 ? 'S1' : t ? 'S1 refreshed' : 'none'))
      await vi.waitFor(() => expect(held()).toEqual(['login S2', 'login S2']), { timeout: 3_000 })
    })
  }
  for (const born of [2 ** 52, 'gen'] as const) {
    it(`a session message with born ${born === 'gen' ? '= gen (control)' : '2^52'}, then a login: every tab ends on the login`, async () => {
      void BASE_URL
      const [a, b] = await openTabs(2)
      const now = Date.now()
      const intruder = new BroadcastChannel(channelName())
      intruder.postMessage({
        type: 'session',
        from: 'x',
        gen: now,
        cause: 'login',
        record: { v: 1, accessToken: `${b64({ alg: 'none' })}.${b64({ sub: 'mallory', exp: Math.floor(now / 1000) + 300 })}.x`, expiresAt: now + 300_000, receivedAt: now, sid: 'bad', rotation: 0, gen: now, tab: 'x', born: born === 'gen' ? now : born },
      })
      await new Promise((resolve) => setTimeout(resolve, 50))
      intruder.close()
      const session = await a!.login(ADA)
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect([a!.getSession()?.accessToken === session.accessToken, b!.getSession()?.accessToken === session.accessToken]).toEqual([true, true])
    })
  }
  it("a record that says born 0 (older versions wrote it): a leader's first refresh crossing a login in another tab; every tab ends on the login (found by an outside probe of the core)", async () => {
    vi.stubGlobal('BroadcastChannel', Slow)
    const storage = mapStorage()
    const earlier = createAuthClient({ baseUrl: BASE_URL, storageKey: storageKey(), storage, crossTab: false })
    await earlier.login(ADA)
    earlier.destroy()
    for (const [key, value] of storage.items) {
      const parsed = JSON.parse(value)
      ;(parsed.record ?? parsed).born = 0 // gen and tab kept
      storage.items.set(key, JSON.stringify(parsed))
    }
    const a = openTab({ storage })
    await a.ready
    const b = openTab()
    await b.ready
    await vi.waitFor(() => expect(b.getSession()?.accessToken).toBe(a.getSession()?.accessToken))
    const s1 = a.getSession()!.accessToken
    revocationsAfterTheNextRefresh()
    lag = 200
    const s2 = await b.login(ADA)
    await new Promise((resolve) => setTimeout(resolve, 5))
    await a.refresh()
    await new Promise((resolve) => setTimeout(resolve, 600))
    const held = () => [a.getSession()?.accessToken, b.getSession()?.accessToken].map((t) => (t === s2.accessToken ? 'login S2' : t === s1 ? 'S1' : t ? 'S1 refreshed' : 'none'))
    await vi.waitFor(() => expect(held()).toEqual(['login S2', 'login S2']), { timeout: 3_000 })
  })
})
