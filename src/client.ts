import type { JwtPayload } from 'jwt-decode'
import { createAuthFetch } from './authFetch.js'
import { retryDelay } from './backoff.js'
import { createCrossTabSync, type CrossTabSync } from './crossTab/crossTabSync.js'
import type { TabMessage } from './crossTab/tabMessage.js'
import { createEmitter, type Emitter, type Listener } from './emitter.js'
import { AuthError, isAuthError } from './errors.js'
import type { AuthEvents } from './events.js'
import { resolveOptions, type AuthClientOptions, type ResolvedOptions } from './options.js'
import { jsonProtocol } from './protocols/json.js'
import { oauth2Protocol } from './protocols/oauth2.js'
import type { Credentials, Protocol } from './protocols/Protocol.js'
import { createScheduler, type Scheduler } from './scheduler.js'
import { createSessionState, fromRecord, toRecord, type Session, type SessionState, type TokenResponse } from './session.js'
import { createSessionStore, type SessionStore } from './storage/sessionStore.js'

/**
 * What `logout()` resolves to.
 *
 * @example
 * ```ts
 * const { revoked } = await auth.logout()
 * if (!revoked) console.warn('the server did not confirm the revocation')
 * ```
 */
export interface LogoutResult {
  /** Whether the server confirmed the revocation. The local session is gone either way. */
  revoked: boolean
}

const noop = (): void => undefined
const EVENTS: readonly PropertyKey[] = ['login', 'refresh', 'logout', 'session-expired', 'error', 'change'] satisfies (keyof AuthEvents)[]

/**
 * The one object an app creates: it logs in, keeps, refreshes and ends the session.
 * Create it with {@link createAuthClient}.
 *
 * @example
 * ```ts
 * const auth: AuthClient<{ sub: string; roles: string[] }> = createAuthClient({ baseUrl: 'https://api.example.com' })
 * const roles = auth.getSession()?.claims.roles ?? []
 * ```
 */
export class AuthClient<Claims = JwtPayload> {
  /**
   * Settles once the session stored earlier is restored (and refreshed, if it had expired).
   * Never rejects: storage failures become `error` events.
   */
  readonly ready: Promise<Session<Claims> | null>

  /**
   * `fetch` with the bearer token attached where allowed, and one refresh-and-replay on a 401.
   * Requests to other origins go out untouched, so it can serve every request of the app.
   * Bound, so it can be passed around as it is.
   *
   * @example
   * ```ts
   * const me = await auth.fetch('/api/me').then((response) => response.json())
   * ```
   */
  readonly fetch: typeof globalThis.fetch

  readonly #options: ResolvedOptions
  readonly #protocol: Protocol
  readonly #store: SessionStore<Claims>
  readonly #events: Emitter<AuthEvents<Claims>> = createEmitter()
  readonly #scheduler: Scheduler
  #state: SessionState<Claims> | undefined
  /**
   * The generation of this tab's state, bumped on every change and shared across tabs: an answer
   * that started under an older generation is stale, and so is another tab's older message.
   */
  #gen = 0
  /** The tab that produced the current generation. */
  #origin = ''
  readonly #tabId = Math.random().toString(36).slice(2) + Date.now().toString(36)
  readonly #sync: CrossTabSync | undefined
  /** Bumped by logout only: a login that was waiting when it happened must not resurrect a session. */
  #logouts = 0
  #flight: Promise<Session<Claims>> | undefined
  #failures = 0
  #wakeSleeper: (() => void) | undefined
  #destroyed = false

  constructor(options: AuthClientOptions) {
    const o = (this.#options = resolveOptions(options))
    this.#protocol = o.protocol === 'oauth2' ? oauth2Protocol(o, o.endpoints, o) : jsonProtocol(o, o.endpoints)
    this.#store = createSessionStore(o, (error) => this.#emit('error', error))
    this.#scheduler = createScheduler(o.clock, () => void this.refresh().catch(noop))
    // Cross-tab only in a browser (in Node a BroadcastChannel would keep the process alive), and
    // one with Web Locks and BroadcastChannel: every browser since 2022.
    this.#sync =
      o.crossTab && o.locks && typeof window !== 'undefined' && typeof BroadcastChannel === 'function'
        ? createCrossTabSync(
            {
              tabId: this.#tabId,
              gen: () => this.#gen,
              origin: () => this.#origin,
              record: () => this.#state && toRecord(this.#state),
              adopt: (change) => this.#destroyed || this.#adopt(change),
              refresh: () => this.refresh(),
            },
            {
              ...o,
              locks: o.locks,
              name: `tokenkeeper:${o.storageKey}@${o.protocol === 'oauth2' ? o.endpoints.token : o.endpoints.refresh}`,
            },
          )
        : undefined
    this.fetch = createAuthFetch(
      o,
      () => (this.#state && this.#usable(this.#state) ? this.#state.session.accessToken : undefined),
      () => this.getAccessToken(),
      (rejected) => this.#tokenAfterUnauthorized(rejected),
    )
    this.ready = this.#restore()
  }

  /**
   * Subscribes to an event; returns the function that unsubscribes. A listener that throws is
   * reported and changes nothing.
   *
   * @example
   * ```ts
   * const off = auth.on('session-expired', () => router.push('/login'))
   * ```
   * @throws {AuthError} `invalid_argument` for an event that does not exist (a misspelt
   *   `'session-expired'` would otherwise never fire) or a listener that is not a function.
   */
  on<K extends keyof AuthEvents<Claims>>(type: K, listener: Listener<AuthEvents<Claims>[K]>): () => void {
    if (!EVENTS.includes(type) || typeof listener !== 'function') {
      throw new AuthError('invalid_argument', `on: no event ${JSON.stringify(type)}, or the listener is not a function`)
    }
    return this.#events.on(type, listener)
  }

  /**
   * The current session or `null`, synchronously. The same object until the session changes.
   *
   * @example
   * ```ts
   * const name = auth.getSession()?.claims.sub
   * ```
   */
  getSession(): Session<Claims> | null {
    return this.#state?.session ?? null
  }

  /**
   * Logs in: posts the credentials, stores the session, emits `login` and `change`.
   * The credentials are never stored, logged or put in an event.
   *
   * @example
   * ```ts
   * const session = await auth.login({ username: 'ada', password: 'correct horse' })
   * ```
   * @throws {AuthError} `invalid_credentials` (400 or 401), `invalid_response`, `network`,
   *   `timeout`, `server`, `invalid_argument`, `aborted` (logout was called meanwhile).
   */
  async login(credentials: Credentials): Promise<Session<Claims>> {
    if (this.#destroyed) throw this.#gone('login')
    if (typeof credentials !== 'object' || !credentials || Array.isArray(credentials)) {
      throw new AuthError('invalid_argument', 'login: credentials must be an object')
    }
    const logouts = this.#logouts
    const state = this.#toState('login', await this.#protocol.login(credentials))
    if (this.#destroyed || logouts !== this.#logouts) {
      void this.#protocol.revoke(state.session.accessToken, state.refreshToken)
      throw this.#destroyed ? this.#gone('login') : new AuthError('aborted', 'login: logout() was called meanwhile; the new session was revoked')
    }
    return this.#apply(state, 'login')
  }

  /**
   * Ends the session: at once locally (memory, storage, timers, events), then at the server
   * (best effort). Resolves even when the server is down, telling whether it confirmed.
   *
   * @example
   * ```ts
   * const { revoked } = await auth.logout()
   * ```
   */
  async logout(): Promise<LogoutResult> {
    const state = this.#state
    this.#logouts++
    this.#end(this.#gen + 1, this.#tabId)
    const cleared = this.#store.clear()
    if (state) {
      this.#emit('logout', { reason: 'user' })
      this.#emit('change', null)
    }
    this.#sync?.publish({ type: 'logout', gen: this.#gen })
    await cleared
    // With the refresh token in an HttpOnly cookie, the server may hold a session this page has not
    // loaded yet (a resume on its way): only the server can end that one.
    if (!state && !this.#options.refreshTokenInCookie) return { revoked: false }
    return { revoked: await this.#protocol.revoke(state?.session.accessToken, state?.refreshToken) }
  }

  /**
   * Forces a refresh. Concurrent calls, `getAccessToken()` and `auth.fetch` share one request.
   *
   * @example
   * ```ts
   * await auth.refresh() // e.g. after the server changed the user's roles
   * ```
   * @throws {AuthError} `session_expired` (emitted as `session-expired` too), `no_session`, or the
   *   transient `network`, `timeout`, `server`, `invalid_response` after the retries a caller waits for.
   */
  refresh(): Promise<Session<Claims>> {
    if (this.#destroyed || !this.#state) return Promise.reject(this.#gone('refresh'))
    return (this.#flight ??= this.#runRefresh().finally(() => {
      this.#flight = undefined
    }))
  }

  /**
   * A valid access token, refreshed first when it has less than `minTokenValidityMs` left;
   * `null` when logged out.
   *
   * @example
   * ```ts
   * const token = await auth.getAccessToken()
   * socket.send(JSON.stringify({ type: 'auth', token }))
   * ```
   * @throws {AuthError} `session_expired` when the refresh was refused; a transient code when the
   *   token is expired and the server could not be reached.
   */
  async getAccessToken(): Promise<string | null> {
    await this.ready
    const state = this.#state
    if (!state) return null
    if (this.#usable(state)) return state.session.accessToken
    try {
      return (await this.refresh()).accessToken
    } catch (error) {
      // Logged out (or destroyed) while waiting: that is "no token", not a failure.
      if (isAuthError(error) && (error.code === 'no_session' || error.code === 'destroyed')) return null
      throw error
    }
  }

  /**
   * Stops every timer, listener and channel the client holds, and removes all subscriptions.
   * The stored session stays for the next client.
   *
   * @example
   * ```ts
   * useEffect(() => () => auth.destroy(), [])
   * ```
   */
  destroy(): void {
    this.#destroyed = true
    this.#gen++
    this.#scheduler.cancel()
    this.#wakeSleeper?.()
    this.#events.clear()
    // A refresh in flight has spent the refresh token: keep the channel and the leader lock until
    // its result is told, or the tab that takes over would send the spent token again.
    const sync = this.#sync
    if (this.#flight) void this.#flight.catch(noop).finally(() => sync?.close())
    else sync?.close()
  }

  async #restore(): Promise<Session<Claims> | null> {
    const gen = this.#gen
    const state = await this.#store.load()
    // A login, logout or another tab's session that arrived meanwhile is newer than storage.
    if (gen !== this.#gen || this.#destroyed) return this.getSession()
    if (!state) {
      // Memory and sessionStorage are per tab: another tab may hold the session.
      await this.#sync?.askSiblings()
      // Not during SSR: the server has no cookie to send, and must not call the auth server per render.
      if (this.#options.refreshTokenInCookie && typeof window !== 'undefined' && gen === this.#gen) await this.#resume()
      return this.getSession()
    }
    this.#gen = state.gen
    this.#origin = ''
    this.#state = state
    if (this.#usable(state)) {
      this.#scheduleRefresh(state)
      this.#emit('change', state.session)
      return state.session
    }
    // Expired while the app was closed: renew before showing it; transient failures keep it.
    try {
      return await this.refresh()
    } catch {
      if (this.#state === state) this.#emit('change', state.session)
      return this.getSession()
    }
  }

  /**
   * Gets a session with the HttpOnly refresh cookie alone, after a reload. One tab at a time: two
   * tabs opened together would send the same rotating cookie, and the second would be refused for
   * reuse. So each asks the others again once it holds the lock, and the first one's session wins.
   */
  async #resume(): Promise<void> {
    const attempt = async (): Promise<void> => {
      const gen = this.#gen
      await this.#sync?.askSiblings()
      if (gen !== this.#gen || this.#destroyed) return
      try {
        const state = this.#toState('refresh', await this.#protocol.refresh(undefined))
        if (gen === this.#gen) this.#apply(state, 'refresh')
      } catch (error) {
        // No cookie, or a dead one: simply logged out. Only a transient failure is worth telling.
        if (isAuthError(error) && error.code !== 'session_expired') this.#emit('error', error)
      }
    }
    await (this.#sync ? this.#sync.exclusive(attempt) : attempt())
  }

  async #runRefresh(): Promise<Session<Claims>> {
    for (let attempt = 1; ; attempt++) {
      const state = this.#state
      if (!state) throw this.#gone('refresh')
      const gen = this.#gen
      let error: AuthError
      try {
        // Only one tab sends the refresh token; the others get the result from it.
        if (this.#sync && !(await this.#sync.clearToRefresh(gen))) return this.#newerSession()
        if (gen !== this.#gen) return this.#newerSession()
        const tokens = await this.#protocol.refresh(state.refreshToken)
        // Without a rotated refresh token the old one stays valid (RFC 6749 §6).
        const next = { ...this.#toState('refresh', tokens), refreshToken: tokens.refreshToken ?? state.refreshToken }
        return gen === this.#gen ? this.#apply(next, 'refresh') : this.#arrivedLate(state, next)
      } catch (thrown) {
        if (gen !== this.#gen) return this.#newerSession()
        error = isAuthError(thrown) ? thrown : new AuthError('network', 'refresh failed', { cause: thrown })
      }
      if (error.code === 'session_expired') {
        // Refused here, but another tab may hold a newer session (say, a leader we took over from).
        await this.#sync?.askSiblings()
        if (gen !== this.#gen) return this.#newerSession()
        this.#expire(error)
        throw error
      }
      this.#failures++
      this.#emit('error', error)
      const delay = retryDelay(this.#failures, error.retryAfterMs, {
        minDelayMs: this.#options.retryMinDelayMs,
        maxDelayMs: this.#options.retryMaxDelayMs,
      })
      // Nobody needs to wait while the current token still works, or once the caller's share of retries is spent.
      if (this.#usable(state) || attempt >= this.#options.retryAttempts) {
        this.#scheduler.schedule(this.#options.clock.now() + delay, 'retry')
        throw error
      }
      await this.#sleep(delay)
      if (gen !== this.#gen) return this.#newerSession()
    }
  }

  /**
   * Tokens a refresh brought after the session moved on. The server has rotated already, so they
   * are neither dropped nor left valid: after `destroy()` they are stored for the next client and
   * told to the other tabs (the refresh token they hold was just used up); after a logout or an
   * expiry they are revoked.
   */
  #arrivedLate(from: SessionState<Claims>, late: SessionState<Claims>): Session<Claims> {
    if (this.#destroyed) {
      if (this.#state === from) {
        const state = { ...late, gen: from.gen + 1 }
        void this.#store.save(state)
        this.#sync?.publish({ type: 'session', gen: state.gen, cause: 'refresh', record: toRecord(state) })
      }
    } else if (!this.#state) {
      void this.#protocol.revoke(late.session.accessToken, late.refreshToken)
    }
    return this.#newerSession()
  }

  /** The session that replaced the one a stale refresh started from, or why there is none. */
  #newerSession(): Session<Claims> {
    const session = this.getSession()
    if (this.#destroyed || !session) throw this.#gone('refresh')
    return session
  }

  /** Why `operation` cannot go on: the client was destroyed, or there is no session (any more). */
  #gone(operation: string): AuthError {
    return this.#destroyed
      ? new AuthError('destroyed', `${operation}: the client was destroyed`)
      : new AuthError('no_session', `${operation}: there is no session`)
  }

  /** The session state for tokens that just arrived. */
  #toState(operation: 'login' | 'refresh', tokens: TokenResponse): SessionState<Claims> {
    return createSessionState<Claims>(operation, tokens, this.#options.clock.now())
  }

  async #tokenAfterUnauthorized(rejected: string): Promise<string | null> {
    const current = this.#state?.session.accessToken
    if (current === undefined) return null
    // Another request's 401 already brought a new token: replay with it, no second refresh.
    if (current !== rejected) return current
    try {
      return (await this.refresh()).accessToken
    } catch {
      return null
    }
  }

  /** Waits between the retries a caller sits through; cut short by logout, destroy or coming back online. */
  #sleep(ms: number): Promise<void> {
    const { clock } = this.#options
    const win = globalThis as unknown as Partial<EventTarget>
    return new Promise((resolve) => {
      const wake = (): void => {
        clock.clearTimeout(handle)
        win.removeEventListener?.('online', wake)
        this.#wakeSleeper = undefined
        resolve()
      }
      const handle = clock.setTimeout(wake, ms)
      win.addEventListener?.('online', wake)
      this.#wakeSleeper = wake
    })
  }

  /**
   * Whether the token may be handed out: `minTokenValidityMs` left, or half its lifetime for a token
   * shorter than twice that, else a 4-second token would be refreshed on every request.
   */
  #usable({ session, receivedAt }: SessionState<Claims>): boolean {
    const { expiresAt } = session
    return expiresAt - this.#options.clock.now() >= Math.min(this.#options.minTokenValidityMs, (expiresAt - receivedAt) / 2)
  }

  /** When to refresh: a margin ahead of expiry, never more than half the lifetime; or at expiry when nothing can renew it. */
  #scheduleRefresh(state: SessionState<Claims>): void {
    const { expiresAt } = state.session
    const canRefresh = state.refreshToken !== undefined || this.#options.protocol === 'json'
    const margin = canRefresh
      ? Math.min(this.#options.refreshMarginMs, (expiresAt - state.receivedAt) / 2)
      : this.#options.minTokenValidityMs
    this.#scheduler.schedule(expiresAt - margin, 'refresh')
  }

  #apply(fresh: SessionState<Claims>, event: 'login' | 'refresh'): Session<Claims> {
    const state = { ...fresh, gen: this.#gen + 1 }
    this.#gen = state.gen
    this.#origin = this.#tabId
    this.#state = state
    this.#failures = 0
    // Other tabs hear of it once it is stored, so one that reads storage finds it.
    void this.#store.save(state).then(() =>
      this.#sync?.publish({ type: 'session', gen: state.gen, cause: event, record: toRecord(state) }),
    )
    this.#scheduleRefresh(state)
    this.#emit(event, state.session)
    this.#emit('change', state.session)
    return state.session
  }

  /** Ends the session locally and synchronously, as generation `gen`: anything in flight is stale from here on. */
  #end(gen: number, origin: string): void {
    this.#gen = gen
    this.#origin = origin
    this.#state = undefined
    this.#failures = 0
    this.#scheduler.cancel()
    this.#wakeSleeper?.()
  }

  #expire(error: AuthError): void {
    if (!this.#state) return
    this.#end(this.#gen + 1, this.#tabId)
    void this.#store.clear()
    this.#emit('session-expired', { error })
    this.#emit('change', null)
    this.#sync?.publish({ type: 'expired', gen: this.#gen })
  }

  /** Takes on a newer state from another tab, and emits what it means here. */
  #adopt(change: Extract<TabMessage, { type: 'session' | 'logout' | 'expired' }>): void {
    const had = this.#state !== undefined
    if (change.type !== 'session') {
      this.#end(change.gen, change.from)
      void this.#store.clear()
      if (!had) return
      if (change.type === 'logout') this.#emit('logout', { reason: 'other-tab' })
      else this.#emit('session-expired', { error: new AuthError('session_expired', 'refresh: refused in another tab') })
      this.#emit('change', null)
      return
    }
    // Validated when it arrived (crossTab/tabMessage.ts).
    const state = fromRecord<Claims>(change.record)!
    this.#gen = change.gen
    this.#origin = change.from
    this.#state = state
    this.#failures = 0
    this.#wakeSleeper?.()
    void this.#store.save(state)
    this.#scheduleRefresh(state)
    // A session answered to "hello" is, for a tab that had none, what a restore is: a change only.
    const event = change.cause === 'sync' ? (had ? 'refresh' : undefined) : change.cause
    if (event) this.#emit(event, state.session)
    this.#emit('change', state.session)
  }

  #emit<K extends keyof AuthEvents<Claims>>(type: K, payload: AuthEvents<Claims>[K]): void {
    if (!this.#destroyed) this.#events.emit(type, payload)
  }
}

/**
 * Creates the client. Checks every option once; starts no timer and touches no `window` until a
 * session exists, so it is safe during SSR and in Node.
 *
 * @example
 * ```ts
 * import { createAuthClient } from 'tokenkeeper'
 *
 * const auth = createAuthClient({ baseUrl: 'https://api.example.com' })
 * auth.on('session-expired', () => router.push('/login'))
 * await auth.login({ username, password })
 * const me = await auth.fetch('/api/me').then((response) => response.json())
 * ```
 * @throws {TypeError} naming the first bad option.
 * @throws {AuthError} `insecure_transport` for a `baseUrl` on plain http that is not localhost.
 */
export function createAuthClient<Claims = JwtPayload>(options: AuthClientOptions): AuthClient<Claims> {
  return new AuthClient<Claims>(options)
}
