/**
 * The world the model-based tests run in: 1 to 4 tabs simulated in one happy-dom page, each its own
 * client (public API only), sharing fake Web Locks, Node's in-process BroadcastChannel, ONE mock
 * auth server with rotation and reuse detection, and a fake clock.
 *
 * What makes a failure a defect of the client rather than of the harness:
 * - Time moves timer by timer. Every `setTimeout` is recorded with its due time, and `advance()`
 *   jumps to the next one, fires it, then lets all real work finish (WebCrypto signing, MSW,
 *   channel messages) before the clock moves again. A 1-second leap would let a follower's 300 ms
 *   lock timeout fire before the leader's answer, already sent, could be delivered.
 * - `settle()` waits until no request is in flight (except answers deliberately held back on the
 *   fake clock) for a run of quiet event-loop turns, so messages between tabs have landed. It is
 *   bounded in real time, not in turns: a signature can take ~100 ms when the machine is busy.
 * - A step ends only after a budget of fake time with no request starting or ending: a tab that
 *   just got an answer may legitimately wait for the others before its state is final.
 * - Answers arrive in the order the requests were sent; reordering is explicit (`slowNext...`),
 *   so a run does not depend on how long each signature took. `Math.random` is seeded per run:
 *   tab ids come from it and break ties between tabs. A seed, a path and a replayPath replay a run.
 * - Every tab gets its own `fetch` (a public option), so every request is attributed to the tab
 *   that sent it, and a tab that was destroyed while its refresh was out is known.
 * - `MODEL_QUIET=200` (ten times the quiet turns) must not change a verdict.
 */
import { setupServer } from 'msw/node'
import { vi } from 'vitest'
import { createAuthClient, isAuthError, memoryStorage, requestTokens, revokeAt, type AuthClient, type Protocol, type Session, type TokenStorage } from '../../src/index.js'
import { createMockAuthServer, type MockAuthServer } from '../../src/testing/mockAuthServer.js'
import { createFakeLocks } from '../helpers.js'

export const BASE_URL = 'https://api.example.com'
export const API = `${BASE_URL}/api/me`
export const USERS = { ada: 'lovelace', grace: 'hopper' } as const
export type User = keyof typeof USERS
/** `memory`: each tab its own, lost at close and reload; `shared`: one for all (localStorage); `tab`: each tab its own, kept across its reload (sessionStorage). */
export type StorageKind = 'memory' | 'shared' | 'tab'

/** Access tokens live 300 s; the client refreshes 60 s ahead (its default margin). */
export const LIFETIME_SEC = 300
/** Fake time a step is given after its last request: more than every cross-tab wait (50 ms sync, 300 ms lock). */
export const STEP_BUDGET_MS = 400
/** Quiet event-loop turns that count as "settled". Raise it (MODEL_QUIET) to rule out a harness artifact. */
const QUIET_TURNS = Number(process.env.MODEL_QUIET ?? 20)
/** Real time a settle may take before the harness gives up on a request. */
const SETTLE_LIMIT_MS = 10_000

/** A call to the public API whose promise is watched until it settles. */
export interface Op<T = unknown> {
  label: string
  state: 'pending' | 'fulfilled' | 'rejected'
  value?: T
  error?: unknown
  promise: Promise<T>
}

export interface Tab {
  /** 1, 2, 3... in the order tabs were opened (a reload makes a new tab). */
  id: number
  client: AuthClient
  storage: TokenStorage
  /** The payload of the last `change` event (null before any). */
  lastChange: Session | null
  ready: Op<Session | null>
  destroyed: boolean
  /** Refresh requests this tab has out. */
  refreshing: number
}

/** What the model says the open tabs must hold. */
export type Expected = { kind: 'out' } | { kind: 'in'; user: User; family: number }

export interface Expectations {
  now: Expected
  /**
   * Also acceptable, until observed or until no destroyed tab has a refresh out: a tab destroyed
   * while its refresh was in flight hands the result over (or, refused, may leave the session alive).
   */
  alternatives: Expected[]
  /** Families a logout ended or a later login superseded: their tokens must end revoked. */
  mustRevoke: Map<number, string>
  /** Families no tab can hold any more without a fault of the client: all tabs closed (memory storage). */
  abandoned: Set<number>
  /** Families whose refresh the server refused (400): dead to the client, whatever the server thinks. */
  refused: Set<number>
}

export const expectations = (): Expectations => ({
  now: { kind: 'out' },
  alternatives: [],
  mustRevoke: new Map(),
  abandoned: new Set(),
  refused: new Set(),
})

/**
 * The invariants, by name. `MODEL_IGNORE=revoke,login` sets some aside, to look for the next defect
 * while a known one is being fixed; never in CI.
 */
export type Invariant =
  | 'unhandled' // no unhandled rejection
  | 'reuse' // no refresh token sent twice: not while a request with it is out, not once answered (and the mock's reuseDetected stays 0)
  | 'agree' // the open tabs hold the same session, or all none
  | 'model' // ...and it is the one the last login or logout made
  | 'change' // the last change event is getSession()
  | 'request' // an API request carries a token of the session it was made in
  | 'login' // login() resolves with the session the tab holds
  | 'pending' // no public promise pending at quiescence
  | 'revoke' // logged out or superseded families end revoked
  | 'live' // no live refresh token that no tab holds
  | 'harness' // the harness itself could not settle

const ignored = new Set((process.env.MODEL_IGNORE ?? '').split(',').filter(Boolean))

/** A broken invariant: the message says which, and what the tabs held. */
export class Violation extends Error {
  override name = 'Violation'
  constructor(readonly invariant: Invariant, message: string) {
    super(`[${invariant}] ${message}`)
  }
}

/** Throws the violation unless its invariant is set aside. */
function fail(invariant: Invariant, message: string): void {
  if (!ignored.has(invariant)) throw new Violation(invariant, message)
}

interface RefreshRecord {
  tab: Tab
  refreshToken: string | undefined
  /** HTTP status, or 'error' for a network failure or abort. */
  status: number | 'error'
  /** The tab was destroyed when the answer arrived. */
  toDestroyed: boolean
}

interface ApiCall {
  tab: Tab
  /** The session the tab held when `fetch` was called, and whether its `ready` had settled. */
  session: Session | null
  restored: boolean
}

interface ApiRecord {
  call: number
  authorization: string | null
}

let current: World | undefined
let savedListeners: NodeJS.UnhandledRejectionListener[] = []
const orphanRejections: unknown[] = []

/**
 * Unhandled rejections become a broken invariant of the run they happen in (so fast-check can
 * shrink them) instead of vitest's end-of-file error. Call in beforeAll / afterAll.
 */
export function captureUnhandledRejections(): { install(): void; uninstall(): void; orphans: unknown[] } {
  const listener = (reason: unknown): void => void (current ? current.unhandled.push(reason) : orphanRejections.push(reason))
  return {
    install() {
      savedListeners = process.listeners('unhandledRejection')
      process.removeAllListeners('unhandledRejection')
      process.on('unhandledRejection', listener)
    },
    uninstall() {
      process.removeListener('unhandledRejection', listener)
      for (const saved of savedListeners) process.on('unhandledRejection', saved)
    },
    orphans: orphanRejections,
  }
}

/** The MSW server of a test file: unhandled requests are errors. */
export const createModelServer = () => setupServer()

const TIMER_KEYS = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] as const
let worldSerial = 0

/**
 * The json protocol's wire, written as an app's own protocol, plus a `resume()` that completes a
 * login made elsewhere (as an OpenID callback does: the code redeemed as the page starts). Its id
 * is the json protocol's, so its tabs share the session with the others.
 */
function redirectProtocol(user: User): Protocol {
  return {
    connect(server) {
      const [login, refresh, logout] = ['/auth/login', '/auth/refresh', '/auth/logout'].map((path) => server.url('endpoints', path)) as [string, string, string]
      const json = { 'content-type': 'application/json' }
      const withRefreshToken = (token: string | undefined) => JSON.stringify(token === undefined ? {} : { refreshToken: token })
      return {
        id: refresh,
        refreshesWithoutToken: true,
        login: (credentials) => requestTokens(server, 'login', login, JSON.stringify(credentials), json),
        refresh: (token) => requestTokens(server, 'refresh', refresh, withRefreshToken(token), json),
        revoke: (accessToken, token) => revokeAt(server, logout, withRefreshToken(token), { ...json, ...(accessToken && { authorization: `Bearer ${accessToken}` }) }),
        resume: () => requestTokens(server, 'login', login, JSON.stringify({ username: user, password: USERS[user] }), json),
      }
    },
  }
}

export class World {
  readonly mock: MockAuthServer
  readonly open: Tab[] = []
  readonly closed: Tab[] = []
  readonly unhandled: unknown[] = []
  readonly ops: Op[] = []
  readonly trace: string[] = []
  readonly kind: StorageKind
  readonly #server: ReturnType<typeof setupServer>
  readonly #key = `model-${++worldSerial}`
  readonly #locks = createFakeLocks()
  readonly #shared = memoryStorage()
  #tabSerial = 0
  #inFlight = 0
  #parked = 0
  #slow: { path: string; ms: number }[] = []
  #seq = 0
  readonly #queue = new Set<number>()
  readonly #turnWaiters = new Set<() => void>()
  readonly #outstanding = new Set<string>()
  #lastActivity = 0
  readonly #sent: { tab: number; refreshToken: string | undefined; status: number | 'error' | 'pending' }[] = []
  readonly #duplicates: string[] = []
  readonly #tokenUse = new Map<string, { out: number; answered: boolean; by: string }>()
  readonly #dues = new Map<unknown, number>()
  readonly #timerOrigins = new Map<unknown, string>()
  readonly #refreshes: RefreshRecord[] = []
  #refreshesSeen = 0
  readonly #apiCalls = new Map<number, ApiCall>()
  readonly #apiRecords: ApiRecord[] = []
  #apiSeen = 0
  #callSerial = 0
  readonly #violations: Violation[] = []
  #restore: (() => void)[] = []

  private constructor(server: ReturnType<typeof setupServer>, kind: StorageKind) {
    this.#server = server
    this.kind = kind
    this.mock = createMockAuthServer({ baseUrl: BASE_URL, users: { ...USERS }, accessTokenLifetimeSec: LIFETIME_SEC })
  }

  /**
   * Fake timers on, the mock server in place, this world receiving unhandled rejections, and
   * `Math.random` seeded: tab ids come from it and break ties between tabs, so a run replays.
   */
  static start(server: ReturnType<typeof setupServer>, kind: StorageKind, seed = 1): World {
    const world = new World(server, kind)
    const random = Math.random
    let state = seed >>> 0
    Math.random = () => {
      // mulberry32
      state = (state + 0x6d2b79f5) >>> 0
      let t = state
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
    world.#restore.push(() => {
      Math.random = random
    })
    server.resetHandlers()
    server.use(...world.mock.handlers)
    vi.useFakeTimers({ toFake: [...TIMER_KEYS], now: 1_800_000_000_000 })
    // Record every timer with its due time, so time can move one timer at a time.
    const fakeSet = globalThis.setTimeout
    const fakeClear = globalThis.clearTimeout
    const dues = world.#dues
    const wrappedSet = ((run: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      const handle: unknown = fakeSet(() => {
        dues.delete(handle)
        run(...args)
      }, ms)
      dues.set(handle, Date.now() + Math.max(0, Number(ms) || 0))
      if (process.env.MODEL_DEBUG_TIMERS) world.#timerOrigins.set(handle, `${ms} ms from ${new Error().stack?.split('\n').slice(2, 6).join(' < ')}`)
      return handle
    }) as unknown as typeof setTimeout
    const wrappedClear = ((handle: unknown) => {
      dues.delete(handle)
      fakeClear(handle as ReturnType<typeof setTimeout>)
    }) as typeof clearTimeout
    globalThis.setTimeout = wrappedSet
    globalThis.clearTimeout = wrappedClear
    world.#restore.push(() => {
      globalThis.setTimeout = fakeSet
      globalThis.clearTimeout = fakeClear
    })
    current = world
    return world
  }

  /** Destroys every tab, lets what is left settle, and puts the real timers back. */
  async stop(): Promise<void> {
    try {
      for (const tab of [...this.open]) this.close(tab)
      this.#slow = []
      // Answers held back are let go, so no destroyed client keeps a channel waiting on them.
      await this.advance(60_000).catch(() => undefined)
      // A request still out would leak into the next run: say so (it never happened so far).
      if (this.#outstanding.size) console.warn(`harness: requests still out after stop(): ${[...this.#outstanding].join(', ')}`)
    } finally {
      for (const undo of this.#restore.reverse()) undo()
      vi.useRealTimers()
      this.#server.resetHandlers()
      if (current === this) current = undefined
    }
  }

  log(line: string): void {
    this.trace.push(`[t+${Date.now() - 1_800_000_000_000}ms] ${line}`)
  }

  /** A violation noticed inside a callback: thrown at the next check. */
  violate(invariant: Invariant, message: string): void {
    if (!ignored.has(invariant)) this.#violations.push(new Violation(invariant, message))
  }

  /** Watches a public API promise until it settles; never lets it go unhandled. */
  track<T>(label: string, promise: Promise<T>): Op<T> {
    const op: Op<T> = { label, state: 'pending', promise }
    promise.then(
      (value) => Object.assign(op, { state: 'fulfilled', value }),
      (error: unknown) => Object.assign(op, { state: 'rejected', error }),
    )
    this.ops.push(op as Op)
    return op
  }

  // ---------------------------------------------------------------- tabs

  /**
   * Opens a tab: a new client on its own memory storage, or on the shared one. With `redirectedAs`,
   * the tab is the page an identity provider sent back after that user logged in there: its
   * protocol (the json protocol's wire, with a `resume()`) completes that login as it starts.
   */
  openTab(storage: TokenStorage = this.kind === 'shared' ? this.#shared : memoryStorage(), redirectedAs?: User): Tab {
    const id = ++this.#tabSerial
    const tab = {} as Tab
    const client = createAuthClient({
      baseUrl: BASE_URL,
      storageKey: this.#key,
      storage,
      locks: this.#locks,
      lockTimeoutMs: 300,
      tabSyncTimeoutMs: 50,
      fetch: (input, init) => this.#fetch(tab, input, init),
      ...(redirectedAs && { protocol: redirectProtocol(redirectedAs) }),
    })
    Object.assign(tab, { id, client, storage, lastChange: null, destroyed: false, refreshing: 0 })
    client.on('change', (session) => {
      tab.lastChange = session
    })
    tab.ready = this.track(`tab ${id}: ready`, client.ready)
    this.open.push(tab)
    return tab
  }

  close(tab: Tab): void {
    tab.client.destroy()
    tab.destroyed = true
    this.open.splice(this.open.indexOf(tab), 1)
    this.closed.push(tab)
  }

  /** Whether a destroyed tab still has a refresh out (its result will be handed over). */
  closedTabRefreshing(): boolean {
    return this.closed.some((tab) => tab.refreshing > 0)
  }

  login(tab: Tab, user: User, wrongPassword = false): Op<Session> {
    return this.track(`tab ${tab.id}: login(${user})`, tab.client.login({ username: user, password: wrongPassword ? 'wrong' : USERS[user] }))
  }

  /** `fetch` of the protected API, remembering the session the tab held at the call. */
  fetchApi(tab: Tab): Op<Response> {
    const call = ++this.#callSerial
    this.#apiCalls.set(call, { tab, session: tab.client.getSession(), restored: tab.ready.state !== 'pending' })
    return this.track(`tab ${tab.id}: fetch #${call}`, tab.client.fetch(`${API}?call=${call}`))
  }

  /** The next `count` refresh answers reach the client `ms` late (the server has acted already). */
  slowNextRefreshes(ms: number, count: number): void {
    for (let i = 0; i < count; i++) this.#slow.push({ path: '/auth/refresh', ms })
  }

  /** The next login answer reaches the client `ms` late: a later request's answer overtakes it. */
  slowNextLogin(ms: number): void {
    this.#slow.push({ path: '/auth/login', ms })
  }

  /**
   * Answers are delivered in the order the requests were sent, so a run does not depend on how
   * long WebCrypto took to sign each token: reordering is explicit (`slowNext...`). A request held
   * back on the clock, or given up by the client, no longer holds the ones behind it.
   */
  #yourTurn(seq: number): Promise<void> {
    const clear = (): boolean => ![...this.#queue].some((other) => other < seq)
    if (clear()) return Promise.resolve()
    return new Promise((resolve) => {
      const check = (): void => {
        if (!clear()) return
        this.#turnWaiters.delete(check)
        resolve()
      }
      this.#turnWaiters.add(check)
    })
  }

  #leaveQueue(seq: number): void {
    if (!this.#queue.delete(seq)) return
    for (const waiter of [...this.#turnWaiters]) waiter()
  }

  async #fetch(tab: Tab, input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)
    const isRefresh = url.pathname === '/auth/refresh'
    const slowIndex = this.#slow.findIndex((slow) => slow.path === url.pathname)
    const slow = slowIndex >= 0 ? this.#slow.splice(slowIndex, 1)[0]!.ms : undefined
    const signal = init?.signal ?? undefined
    let refreshToken: string | undefined
    let sent: { tab: number; refreshToken: string | undefined; status: number | 'error' | 'pending' } | undefined
    if (isRefresh) {
      try {
        refreshToken = (JSON.parse(String(init?.body)) as { refreshToken?: string }).refreshToken
      } catch {
        refreshToken = undefined
      }
      tab.refreshing++
      this.log(`  tab ${tab.id}${tab.destroyed ? ' (destroyed)' : ''} sends refresh token ${this.#describeRefreshToken(refreshToken)}${slow ? `, answer held ${slow} ms` : ''}`)
      // Sent twice: while another request with it is out, or after the server answered it (a
      // transient failure leaves it unspent, so a retry is fine).
      const use = refreshToken === undefined ? undefined : this.#tokenUse.get(refreshToken)
      if (use && (use.out > 0 || use.answered)) {
        const message = `tab ${tab.id} sent refresh token ${this.#describeRefreshToken(refreshToken)} ${use.out > 0 ? `while a request with it was still out (${use.by})` : `after the server had answered it (${use.by})`}`
        this.#duplicates.push(message)
        this.violate('reuse', message)
      }
      sent = { tab: tab.id, refreshToken, status: 'pending' }
      this.#sent.push(sent)
      if (refreshToken !== undefined) this.#tokenUse.set(refreshToken, { out: (use?.out ?? 0) + 1, answered: use?.answered ?? false, by: `tab ${tab.id}` })
    }
    if (url.pathname === '/api/me') {
      const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined))
      this.#apiRecords.push({ call: Number(url.searchParams.get('call')), authorization: headers.get('authorization') })
    }
    const seq = ++this.#seq
    this.#queue.add(seq)
    this.#inFlight++
    const label = `#${seq} tab ${tab.id} ${init?.method ?? 'GET'} ${url.pathname}`
    this.#outstanding.add(label)
    this.#lastActivity = Date.now()
    let counted = true
    const end = (): void => {
      this.#lastActivity = Date.now()
      if (counted) this.#inFlight--
      counted = false
      this.#outstanding.delete(label)
      this.#leaveQueue(seq)
    }
    signal?.addEventListener('abort', end)
    let status: number | 'error' = 'error'
    try {
      const outcome = await (globalThis.fetch as typeof fetch)(input, init).then(
        (response) => ({ response }),
        (error: unknown) => ({ error }),
      )
      await this.#yourTurn(seq)
      if (slow !== undefined) {
        this.#parked++
        this.#leaveQueue(seq)
        try {
          await new Promise<void>((resolve, reject) => {
            if (signal?.aborted) return reject(signal.reason)
            const timer = setTimeout(resolve, slow)
            signal?.addEventListener('abort', () => {
              clearTimeout(timer)
              reject(signal.reason)
            })
          })
        } finally {
          this.#parked--
        }
      }
      if ('error' in outcome) throw outcome.error
      status = outcome.response.status
      return outcome.response
    } finally {
      end()
      if (isRefresh) {
        tab.refreshing--
        sent!.status = status
        this.#refreshes.push({ tab, refreshToken, status, toDestroyed: tab.destroyed })
        const use = refreshToken === undefined ? undefined : this.#tokenUse.get(refreshToken)
        if (use) {
          use.out--
          if (status === 200 || status === 400 || status === 401) use.answered = true
        }
        this.log(`  tab ${tab.id}${tab.destroyed ? ' (destroyed)' : ''} gets ${status} for ${this.#describeRefreshToken(refreshToken)}`)
      }
    }
  }

  // ---------------------------------------------------------------- time

  /**
   * Lets every request in flight (but the ones held back on the clock) finish, and messages land.
   * Bounded in real time, not in turns: WebCrypto signs on libuv's thread pool, which a busy
   * 2-core machine can hold up for a while.
   */
  async settle(): Promise<void> {
    const started = performance.now()
    for (let quiet = 0; ; ) {
      await vi.advanceTimersByTimeAsync(0)
      await new Promise((resolve) => setImmediate(resolve))
      quiet = this.#inFlight - this.#parked === 0 ? quiet + 1 : 0
      if (quiet >= QUIET_TURNS) break
      if (performance.now() - started > SETTLE_LIMIT_MS) {
        throw new Violation(
          'harness',
          `requests still in flight after ${SETTLE_LIMIT_MS} ms of real time (${this.#inFlight} out, ${this.#parked} held back): ${[...this.#outstanding].join(', ')}; queue ${[...this.#queue].join(',')}; timers due in ${[...this.#dues.values()].map((due) => due - Date.now()).sort((a, b) => a - b).slice(0, 8).join(', ')} ms`,
        )
      }
    }
    World.slowestSettleMs = Math.max(World.slowestSettleMs, performance.now() - started)
  }

  /** The longest a settle took in real time, in this process: how close runs come to the limit. */
  static slowestSettleMs = 0

  /** Moves the clock `ms` ahead, one timer at a time, settling after each. */
  async advance(ms: number): Promise<void> {
    await this.#advanceTo(Date.now() + ms, () => false)
  }

  /** Moves the clock until `done()` or `maxMs` passed; returns whether `done()` became true. */
  async driveUntil(done: () => boolean, maxMs: number): Promise<boolean> {
    await this.settle()
    if (done()) return true
    await this.#advanceTo(Date.now() + maxMs, done)
    return done()
  }

  async #advanceTo(target: number, done: () => boolean): Promise<void> {
    for (let step = 0; step < 200_000; step++) {
      const now = Date.now()
      let next = Number.POSITIVE_INFINITY
      for (const due of this.#dues.values()) next = Math.min(next, due)
      if (next > target) {
        if (target > now) await vi.advanceTimersByTimeAsync(target - now)
        await this.settle()
        return
      }
      // At least 1 ms: the fake clock gives a 0 ms timer set during a tick `now + 1` (so that a timer
      // re-arming itself at 0 ms cannot freeze time), and settle() already fired every timer due now.
      await vi.advanceTimersByTimeAsync(Math.max(1, next - now))
      await this.settle()
      if (done()) return
    }
    const due = [...this.#dues].filter(([, at]) => at <= Date.now()).map(([handle]) => this.#timerOrigins.get(handle) ?? '(MODEL_DEBUG_TIMERS=1 tells where)')
    throw new Violation('harness', `timers keep firing without time moving (200,000 steps); due now: ${due.slice(0, 3).join(' | ')}`)
  }

  /** The laptop sleeps `ms`: the wall clock jumps, timers do not fire; then the page is visible again. */
  async sleep(ms: number): Promise<void> {
    vi.setSystemTime(Date.now() + ms)
    // Fake timers keep their distance from "now" across the jump, as real ones do in a sleep.
    for (const [handle, due] of this.#dues) this.#dues.set(handle, due + ms)
    document.dispatchEvent(new Event('visibilitychange'))
    await this.settle()
  }

  /**
   * After an action: settle, then give the tabs their step budget of fake time, counted again from
   * the last request that started or ended: a tab that just got an answer may legitimately wait
   * for the others (it asks them before giving up a session) before the state is final.
   */
  async step(): Promise<void> {
    await this.settle()
    let until = Date.now() + STEP_BUDGET_MS
    for (let round = 0; round < 1_000; round++) {
      await this.#advanceTo(until, () => false)
      until = this.#lastActivity + STEP_BUDGET_MS
      if (until <= Date.now()) return
    }
    throw new Violation('harness', 'requests keep going for 1,000 step budgets')
  }

  // ---------------------------------------------------------------- server view

  /** Every refresh request the tabs sent, in the order sent: which tab, which token, what answer so far. */
  refreshRequests(): { tab: number; refreshToken: string | undefined; status: number | 'error' | 'pending' }[] {
    return this.#sent.map((request) => ({ ...request }))
  }

  /**
   * Refresh tokens sent twice: while a request with the same token was out, or after the server
   * had answered it (200 or 400). A retry after a 5xx, 429 or network error is not a second use.
   */
  duplicateSends(): string[] {
    return [...this.#duplicates]
  }

  /** The bearer token each API request carried (null for none), in the order sent. */
  apiTokens(): (string | null)[] {
    return this.#apiRecords.map((record) => record.authorization?.replace(/^Bearer /, '') ?? null)
  }

  /** The login family an access token descends from, or undefined for a token the server never issued. */
  familyOf(accessToken: string): number | undefined {
    return this.mock.issued().find((tokens) => tokens.accessToken === accessToken)?.family
  }

  /** The families of every login the server answered, oldest first. */
  loginFamilies(): number[] {
    return this.mock.issued().filter((tokens) => tokens.grant === 'login').map((tokens) => tokens.family)
  }

  #describeRefreshToken(token: string | undefined): string {
    const issued = this.mock.issued().find((tokens) => tokens.refreshToken === token)
    return issued ? `${token!.split('-').slice(0, 2).join('-')} (family ${issued.family})` : String(token)
  }

  describeSession(session: Session | null): string {
    if (!session) return 'logged out'
    const sub = (session.claims as { sub?: string }).sub
    return `${sub} (family ${this.familyOf(session.accessToken) ?? '?'}, token …${session.accessToken.slice(-6)})`
  }

  describeTabs(): string {
    const tabs = this.open.map((tab) => `tab ${tab.id}: ${this.describeSession(tab.client.getSession())}${tab.ready.state === 'pending' ? ' (ready pending)' : ''}`)
    return tabs.length ? tabs.join('; ') : 'no tab open'
  }

  static describe(expected: Expected): string {
    return expected.kind === 'out' ? 'logged out' : `${expected.user} (family ${expected.family})`
  }

  // ---------------------------------------------------------------- invariants

  /** What the open tabs hold together, or a violation when they disagree. */
  #observe(): Expected | undefined {
    if (this.open.length === 0) return undefined
    const sessions = this.open.map((tab) => tab.client.getSession())
    const first = sessions[0]
    const agree = sessions.every((session) => (session === null) === (first === null) && session?.accessToken === first?.accessToken)
    if (!agree) {
      fail('agree', `tabs disagree: ${this.describeTabs()}`)
      return undefined
    }
    if (!first) return { kind: 'out' }
    const family = this.familyOf(first.accessToken)
    const user = (first.claims as { sub?: string }).sub
    if (family === undefined || (user !== 'ada' && user !== 'grace')) {
      fail('agree', `tabs hold a token the server never issued: ${this.describeTabs()}`)
      return undefined
    }
    return { kind: 'in', user, family }
  }

  /**
   * The invariants that hold after every step. Updates `exp` with what the server's answers made
   * legitimate (a refused refresh ends the session) and with the alternative that was observed.
   */
  check(exp: Expectations): void {
    if (this.unhandled.length) {
      fail('unhandled', `unhandled rejection: ${this.unhandled.map((reason) => (reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason))).join(' | ')}`)
    }
    if (this.#violations.length) throw this.#violations[0]!
    if (this.mock.counts.reuseDetected > 0) {
      const reused = this.mock.refreshes().filter((attempt) => attempt.outcome === 'reused')
      fail('reuse', `a refresh token was sent twice: reuse detected ${this.mock.counts.reuseDetected}× (family ${reused.map((attempt) => attempt.family).join(', ')}); ${this.describeTabs()}`)
    }

    // A refresh the server refused ends the session it belongs to.
    for (const record of this.#refreshes.slice(this.#refreshesSeen)) {
      if (record.status !== 400 && record.status !== 401) continue
      const family = record.refreshToken === undefined ? undefined : this.mock.issued().find((tokens) => tokens.refreshToken === record.refreshToken)?.family
      if (family === undefined) continue
      exp.refused.add(family)
      if (exp.now.kind !== 'in' || exp.now.family !== family) continue
      // Heard by a destroyed tab too: it still clears storage and tells the others before it goes.
      this.log(`server refused family ${family}'s refresh (tab ${record.tab.id}${record.toDestroyed ? ', destroyed' : ''}): the session ends`)
      exp.now = { kind: 'out' }
    }
    this.#refreshesSeen = this.#refreshes.length

    const observed = this.#observe()
    if (observed) {
      const same = (a: Expected, b: Expected): boolean =>
        a.kind === b.kind && (a.kind === 'out' || (b.kind === 'in' && a.family === b.family && a.user === b.user))
      if (!same(observed, exp.now)) {
        const alternative = exp.alternatives.find((candidate) => same(observed, candidate))
        if (!alternative) {
          fail(
            'model',
            `tabs hold ${World.describe(observed)}, the model expects ${World.describe(exp.now)}` +
              (exp.alternatives.length ? ` or ${exp.alternatives.map(World.describe).join(' or ')}` : '') +
              `: ${this.describeTabs()}`,
          )
        }
        this.log(`observed ${alternative ? 'the alternative' : 'instead (model set aside)'}: ${World.describe(observed)}`)
        exp.now = observed
      }
    }
    if (!this.closedTabRefreshing()) exp.alternatives = []

    // In each tab, the last change event is what getSession() returns.
    for (const tab of this.open) {
      if (tab.ready.state === 'pending') continue
      if (tab.lastChange !== tab.client.getSession()) {
        fail(
          'change',
          `tab ${tab.id}: the last change event (${this.describeSession(tab.lastChange)}) is not getSession() (${this.describeSession(tab.client.getSession())})`,
        )
      }
    }

    // A request runs under the session it was made in.
    for (const record of this.#apiRecords.slice(this.#apiSeen)) {
      const call = this.#apiCalls.get(record.call)!
      const token = record.authorization?.replace(/^Bearer /, '') ?? null
      const sent = token === null ? null : (this.familyOf(token) ?? -1)
      const made = call.session ? this.familyOf(call.session.accessToken) : null
      const ok = call.session ? sent === null || sent === made : !call.restored || sent === null
      if (!ok) {
        fail(
          'request',
          `fetch #${record.call} in tab ${call.tab.id} was made under ${this.describeSession(call.session)} but sent a token of family ${sent}`,
        )
      }
    }
    this.#apiSeen = this.#apiRecords.length
  }

  /**
   * Quiescence: every public promise settles, then the step invariants, then the fate of every
   * refresh token the server issued.
   */
  async quiesce(exp: Expectations): Promise<void> {
    this.#slow = []
    const pending = (): Op[] => this.ops.filter((op) => op.state === 'pending')
    await this.driveUntil(() => pending().length === 0 && !this.closedTabRefreshing(), 180_000)
    // A caller's refresh() may have given up while its retries go on in the background: a retry
    // refused just now still has its ending to carry out (the tab asks the others first). Let it.
    await this.step()
    this.log('quiescence')
    this.check(exp)
    const left = pending()
    if (left.length) fail('pending', `public API promises still pending at quiescence (180 s later): ${left.map((op) => op.label).join(', ')}`)

    const families = new Map<number, { sub: string; statuses: string[] }>()
    for (const tokens of this.mock.issued()) {
      const family = families.get(tokens.family) ?? { sub: tokens.sub, statuses: [] }
      family.statuses.push(tokens.status)
      families.set(tokens.family, family)
    }
    for (const [id, family] of families) {
      const revoked = family.statuses.includes('revoked')
      const why = exp.mustRevoke.get(id)
      if (why && !revoked) fail('revoke', `family ${id} (${family.sub}) was ${why}, but its refresh tokens are not revoked at the server`)
      if (revoked || !family.statuses.includes('current')) continue
      const held = exp.now.kind === 'in' && exp.now.family === id
      if (!held && !exp.abandoned.has(id) && !exp.refused.has(id)) {
        fail('live', `family ${id} (${family.sub}) ends with a live refresh token that no tab holds (tokens: ${family.statuses.join(', ')}); ${this.describeTabs()}`)
      }
    }
  }
}

/** The error code of a rejection, for messages. */
export const codeOf = (error: unknown): string => (isAuthError(error) ? error.code : error instanceof Error ? error.name : String(error))
