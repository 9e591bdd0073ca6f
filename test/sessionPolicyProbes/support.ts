/**
 * What the session policy probes share: a mock auth server, fake time (Date and timers only, so
 * MSW's own work keeps running), clients that may join the test's tabs (one channel, fake locks),
 * an API that records the bearer and the time of each request, and the refresh tokens sent.
 */
import { http, HttpResponse } from 'msw'
import { afterEach, beforeEach, vi } from 'vitest'
import { createAuthClient, type AuthClient, type AuthClientOptions, type AuthEvents } from '../../src/index.js'
import { BASE_URL, createFakeLocks, network, record, useMockAuthServer } from '../helpers.js'

export { BASE_URL, record }
export const ADA = { username: 'ada', password: 'lovelace' }
export const API = `${BASE_URL}/api/me`
export const SECOND = 1_000
export const MINUTE = 60 * SECOND
export const START = 1_800_000_000_000

export function useProbe(prefix: string) {
  const { server, mock, configure } = useMockAuthServer()
  const { settle, elapse } = network()
  let clients: AuthClient[] = []
  let key = 0
  let locks = createFakeLocks()
  /** Requests to the API: the bearer token (or null) and when it went out. */
  let requests: { token: string | null; at: number }[] = []
  /** Refresh tokens sent to the server, and when. */
  let refreshes: { token: string | undefined; at: number }[] = []

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: START })
    requests = []
    refreshes = []
    server.use(
      http.get(API, ({ request }) => {
        requests.push({ token: request.headers.get('authorization')?.replace(/^Bearer /, '') ?? null, at: Date.now() })
        return HttpResponse.json({ ok: true })
      }),
      http.post(`${BASE_URL}/auth/refresh`, async ({ request }) => {
        const body = (await request.clone().json().catch(() => ({}))) as { refreshToken?: string }
        refreshes.push({ token: body.refreshToken, at: Date.now() })
        return undefined
      }),
    )
  })
  afterEach(() => {
    for (const auth of clients.splice(0)) auth.destroy()
    key++
    locks = createFakeLocks()
    vi.useRealTimers()
  })

  const storageKey = () => `${prefix}-${key}`
  /** A client; `tab: true` joins the test's other tabs (shared channel and locks). */
  function client(options: Partial<AuthClientOptions> = {}, tab = false): AuthClient {
    const auth = createAuthClient({
      baseUrl: BASE_URL,
      crossTab: tab,
      storageKey: storageKey(),
      locks,
      lockTimeoutMs: 300,
      tabSyncTimeoutMs: 50,
      ...options,
    })
    clients.push(auth)
    return auth
  }
  /** Opens a tab and waits until it is ready (it asks the other tabs, 50 ms). */
  async function openTab(options: Partial<AuthClientOptions> = {}): Promise<AuthClient> {
    const tab = client(options, true)
    let ready = false
    void tab.ready.then(() => (ready = true))
    for (let i = 0; i < 100 && !ready; i++) await elapse(20, 20)
    return tab
  }
  const events = <K extends keyof AuthEvents>(auth: AuthClient, type: K) => record<AuthEvents[K]>((listener) => auth.on(type, listener))
  /** The mock server's family of a token (access or refresh), 1 for the first login. */
  const familyOf = (token: string | null | undefined) => mock().issued().find((tokens) => tokens.accessToken === token || tokens.refreshToken === token)?.family
  /** The refresh tokens of a family still current at the server. */
  const live = (family: number) => mock().issued().filter((tokens) => tokens.family === family && tokens.status === 'current')
  /** The user is active in the page: every simulated tab shares the one document. */
  const act = (type = 'pointerdown') => document.dispatchEvent(new Event(type))
  /** The page is hidden (a tab switch, a close, a reload), then visible again without an event. */
  const hide = () => {
    Object.defineProperty(document, 'hidden', { value: true, configurable: true })
    document.dispatchEvent(new Event('visibilitychange'))
    delete (document as { hidden?: boolean }).hidden
  }

  return {
    server,
    mock,
    configure,
    settle,
    elapse,
    client,
    openTab,
    events,
    familyOf,
    live,
    act,
    hide,
    storageKey,
    channelName: () => `tokenkeeper:${storageKey()}@${BASE_URL}/auth/refresh`,
    requests: () => requests,
    refreshes: () => refreshes,
  }
}
