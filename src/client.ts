import type { JwtPayload } from 'jwt-decode'
import { createAuthFetch } from './authFetch.js'
import { createCrossTabSync, type Change, type CrossTabSync, type Outgoing } from './crossTab/crossTabSync.js'
import { createEmitter, type Emitter, type Listener } from './emitter.js'
import { AuthError, isAuthError } from './errors.js'
import type { AuthEvents } from './events.js'
import { resolveOptions, type AuthClientOptions, type ResolvedOptions } from './options.js'
import { jsonProtocol } from './protocols/json.js'
import { oauth2Protocol } from './protocols/oauth2.js'
import type { Credentials, Protocol } from './protocols/Protocol.js'
import { createRefreshFlight, type RefreshFlight } from './refreshFlight.js'
import { createScheduler, type Scheduler } from './scheduler.js'
import { createSessionState, fromRecord, randomId, toRecord, type Session, type SessionState, type TokenResponse } from './session.js'
import { isGen, replaces } from './sessionOrder.js'
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

/** How the session changes: made here (login, refresh), read back, taken from another tab, or ended. */
type Transition =
  | { kind: 'login' | 'refresh' }
  /** Read back from storage; `quiet` while it is expired and not shown until renewed. */
  | { kind: 'restore'; quiet: boolean }
  | { kind: 'adopt'; cause: 'login' | 'refresh' | 'sync' }
  | { kind: 'logout' | 'expire'; here: boolean; error?: AuthError }

/** How many ended sessions a tab remembers, so late news of them changes nothing. */
const ENDED_KEPT = 16

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
  readonly #flight: RefreshFlight<SessionState<Claims>>
  readonly #tabId = randomId()
  readonly #sync: CrossTabSync | undefined
  #state: SessionState<Claims> | undefined
  /** This tab's clock in the order of changes across tabs (sessionOrder.ts). */
  #clock = 0
  /** Counts changes of `#state`: work that waited can tell that the session moved on under it. */
  #version = 0
  /** Counts `login()` and `logout()` calls: the answer to an older call never undoes a newer one. */
  #intents = 0
  /** Sessions that ended lately (logout or expiry), oldest first, with how they ended. */
  readonly #ended = new Map<string, 'logout' | 'expired'>()
  /** Which session each recent access token belongs to, so a 401 is replayed only within its session. */
  readonly #sidOf = new Map<string, string>()
  /** The storage write of the latest transition. */
  #persisted: Promise<void> = Promise.resolve()
  #destroyed = false

  constructor(options: AuthClientOptions) {
    const o = (this.#options = resolveOptions(options))
    this.#protocol = o.protocol === 'oauth2' ? oauth2Protocol(o, o.endpoints, o) : jsonProtocol(o, o.endpoints)
    this.#store = createSessionStore(o, (error) => this.#emit('error', error))
    this.#scheduler = createScheduler(o.clock, () => void this.refresh().catch(noop))
    this.#flight = createRefreshFlight(o)
    // Cross-tab only in a browser (in Node a BroadcastChannel would keep the process alive), and
    // one with Web Locks and BroadcastChannel: every browser since 2022.
    this.#sync =
      o.crossTab && o.locks && typeof window !== 'undefined' && typeof BroadcastChannel === 'function'
        ? createCrossTabSync(
            {
              tabId: this.#tabId,
              clock: () => this.#clock,
              see: (gen) => this.#see(gen),
              version: () => this.#version,
              held: () => this.#state && toRecord(this.#state),
              answer: (sid) => this.#answer(sid),
              adopt: (change) => this.#adopt(change),
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
   * Logs in: posts the credentials, stores the session, emits `login` and `change`. A session this
   * one replaces (a second login) is revoked at the server. The credentials are never stored,
   * logged or put in an event.
   *
   * @example
   * ```ts
   * const session = await auth.login({ username: 'ada', password: 'correct horse' })
   * ```
   * @throws {AuthError} `invalid_credentials` (400 or 401), `invalid_response`, `network`,
   *   `timeout`, `server`, `invalid_argument`, `aborted` (a newer `login()` or `logout()` was
   *   called meanwhile, or a listener logged out at once; the new session is revoked).
   */
  async login(credentials: Credentials): Promise<Session<Claims>> {
    if (this.#destroyed) throw this.#gone('login')
    if (typeof credentials !== 'object' || !credentials || Array.isArray(credentials)) {
      throw new AuthError('invalid_argument', 'login: credentials must be an object')
    }
    const intent = ++this.#intents
    const tokens = await this.#protocol.login(credentials)
    let state: SessionState<Claims>
    try {
      state = this.#toState('login', tokens)
    } catch (error) {
      void this.#protocol.revoke(tokens.accessToken, tokens.refreshToken)
      throw error
    }
    if (this.#destroyed || intent !== this.#intents) {
      void this.#protocol.revoke(state.session.accessToken, state.refreshToken)
      throw this.#destroyed ? this.#gone('login') : new AuthError('aborted', 'login: a newer login() or logout() was called meanwhile; this session was revoked')
    }
    const made = this.#transition(state, { kind: 'login' })
    // A listener may have logged out already: never hand out a session that is over.
    if (this.#state !== made) throw new AuthError('aborted', 'login: the session ended before login() returned')
    return made.session
  }

  /**
   * Ends the session: at once locally (memory, storage, timers, events, other tabs), then at the
   * server (best effort). Resolves even when the server is down, telling whether it confirmed.
   *
   * @example
   * ```ts
   * const { revoked } = await auth.logout()
   * ```
   */
  async logout(): Promise<LogoutResult> {
    this.#intents++
    const state = this.#state
    if (state) {
      this.#transition(undefined, { kind: 'logout', here: true })
    } else {
      this.#version++ // a session on its way (a cookie resume) is over too
      this.#persisted = this.#store.clear()
    }
    await this.#persisted
    // With the refresh token in an HttpOnly cookie, the server may hold a session this page has not
    // loaded yet (a resume on its way): only the server can end that one.
    if (!state && !this.#options.refreshTokenInCookie) return { revoked: false }
    return { revoked: await this.#protocol.revoke(state?.session.accessToken, state?.refreshToken) }
  }

  /**
   * Forces a refresh. Concurrent calls, `getAccessToken()` and `auth.fetch` share one request.
   * It renews the session current at the call: if that one ends meanwhile, the call rejects with
   * `no_session` rather than resolve with a later session.
   *
   * @example
   * ```ts
   * await auth.refresh() // e.g. after the server changed the user's roles
   * ```
   * @throws {AuthError} `session_expired` (emitted as `session-expired` too), `no_session`, or the
   *   transient `network`, `timeout`, `server`, `invalid_response` after the retries a caller waits for.
   */
  async refresh(): Promise<Session<Claims>> {
    if (this.#destroyed || !this.#state) throw this.#gone('refresh')
    return (await this.#renew(this.#state.sid)).session
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
      return (await this.#renew(state.sid)).session.accessToken
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
    this.#version++
    this.#scheduler.cancel()
    this.#flight.wake()
    this.#events.clear()
    // A refresh in flight has spent the refresh token: keep the channel and the leader lock until
    // its result is told, or the tab that takes over would send the spent token again.
    const sync = this.#sync
    const flight = this.#flight.current()
    if (flight) void flight.catch(noop).finally(() => sync?.close())
    else sync?.close()
  }

  async #restore(): Promise<Session<Claims> | null> {
    const version = this.#version
    let state = await this.#store.load()
    if (state && !isGen(state.gen, this.#clock)) {
      this.#emit('error', new AuthError('storage', 'storage: the stored session is out of range; it was removed'))
      state = undefined
      void this.#store.clear()
    }
    // A login, logout or another tab's session that arrived meanwhile is newer than storage.
    if (version !== this.#version || this.#destroyed) return this.getSession()
    if (!state) {
      // Memory and sessionStorage are per tab: another tab may hold the session.
      await this.#sync?.askSiblings()
      // Not during SSR: the server has no cookie to send, and must not call the auth server per render.
      if (this.#options.refreshTokenInCookie && typeof window !== 'undefined' && version === this.#version) await this.#resume()
      return this.getSession()
    }
    // Expired while the app was closed: renew before showing it; transient failures keep it.
    const usable = this.#usable(state)
    this.#transition(state, { kind: 'restore', quiet: !usable })
    if (usable) return state.session
    return this.#renew(state.sid).then(
      (renewed) => renewed.session,
      () => {
        if (this.#state === state) this.#emit('change', state.session)
        return this.getSession()
      },
    )
  }

  /**
   * Gets a session with the HttpOnly refresh cookie alone, after a reload. One tab at a time: two
   * tabs opened together would send the same rotating cookie, and the second would be refused for
   * reuse. So each asks the others again once it holds the lock, and the first one's session wins.
   */
  async #resume(): Promise<void> {
    const attempt = async (): Promise<void> => {
      const version = this.#version
      await this.#sync?.askSiblings()
      if (version !== this.#version || this.#destroyed) return
      try {
        const state = this.#toState('refresh', await this.#protocol.refresh(undefined))
        if (version === this.#version && !this.#destroyed) this.#transition(state, { kind: 'refresh' })
      } catch (error) {
        // No cookie, or a dead one: simply logged out. Only a transient failure is worth telling.
        if (isAuthError(error) && error.code !== 'session_expired') this.#emit('error', error)
      }
    }
    await (this.#sync ? this.#sync.exclusive(attempt) : attempt())
  }

  /** Renews the session `sid` through the single flight; rejects once that session is over. */
  #renew(sid: string): Promise<SessionState<Claims>> {
    return this.#flight.run({
      attempt: () => this.#refreshOnce(sid),
      failed: (error) => this.#emit('error', error),
      mustWait: () => this.#state?.sid === sid && !this.#usable(this.#state),
      retryAt: (at) => this.#state?.sid === sid && this.#scheduler.schedule(at, 'retry'),
    }).then((state) => {
      if (state.sid !== sid) throw this.#gone('refresh')
      return state
    })
  }

  /** One refresh of session `sid`'s current state; whatever replaced that state meanwhile wins over the answer. */
  async #refreshOnce(sid: string): Promise<SessionState<Claims>> {
    const from = this.#state
    if (!from || from.sid !== sid || this.#destroyed) throw this.#gone('refresh')
    const stale = (): boolean => this.#state !== from
    // Only one tab sends the refresh token; the others get the result from it.
    if (this.#sync && !(await this.#sync.clearToRefresh(toRecord(from), stale))) return this.#successor(from)
    if (stale()) return this.#successor(from)
    let tokens: TokenResponse
    try {
      tokens = await this.#protocol.refresh(from.refreshToken)
    } catch (error) {
      if (stale()) return this.#successor(from)
      if (isAuthError(error) && error.code === 'session_expired') {
        // Refused here, but another tab may hold a newer state of it (a leader we took over from).
        await this.#sync?.askSiblings()
        if (stale()) return this.#successor(from)
        this.#transition(undefined, { kind: 'expire', here: true, error })
      }
      throw error
    }
    // Without a rotated refresh token the old one stays valid (RFC 6749 §6).
    const next = {
      ...this.#toState('refresh', tokens),
      refreshToken: tokens.refreshToken ?? from.refreshToken,
      sid: from.sid,
      rotation: from.rotation + 1,
    }
    if (this.#destroyed || stale()) return this.#arrivedLate(from, next)
    // A listener may have logged out already: the callers then get no session, not a dead one.
    return this.#successor(this.#transition(next, { kind: 'refresh' }))
  }

  /**
   * Tokens a refresh brought after the session moved on. The server has rotated already, so they
   * are neither dropped nor left valid: after `destroy()` they are stored for the next client and
   * told to the other tabs (the refresh token they hold was just used up); after a logout, an
   * expiry or another login they are revoked.
   */
  #arrivedLate(from: SessionState<Claims>, late: SessionState<Claims>): SessionState<Claims> {
    if (this.#destroyed && this.#state === from) {
      const state = { ...late, gen: ++this.#clock, tab: this.#tabId }
      void this.#store.save(state)
      this.#sync?.publish({ type: 'session', gen: state.gen, cause: 'refresh', record: toRecord(state) })
    } else if (this.#state?.sid !== from.sid) {
      void this.#protocol.revoke(late.session.accessToken, late.refreshToken)
    }
    return this.#successor(from)
  }

  /** The state of the same session that replaced `from`, or why there is none. */
  #successor(from: SessionState<Claims>): SessionState<Claims> {
    const state = this.#state
    if (this.#destroyed || state?.sid !== from.sid) throw this.#gone('refresh')
    return state
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

  /** The token to replay a request with after a 401 on `rejected`: only one of the same session. */
  async #tokenAfterUnauthorized(rejected: string): Promise<string | null> {
    const state = this.#state
    if (!state || this.#sidOf.get(rejected) !== state.sid) return null
    // Another request's 401 already brought a new token: replay with it, no second refresh.
    if (state.session.accessToken !== rejected) return state.session.accessToken
    try {
      return (await this.#renew(state.sid)).session.accessToken
    } catch {
      return null
    }
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

  #see(gen: number): void {
    if (gen > this.#clock) this.#clock = gen
  }

  /** What this tab tells a tab that asks (about `sid`, when given): that it ended, or what it holds. */
  #answer(sid?: string): Outgoing<Change> {
    const gen = this.#clock
    const ended = sid === undefined ? undefined : this.#ended.get(sid)
    if (sid !== undefined && ended) return { type: ended, gen, sid }
    if (this.#state) return { type: 'session', gen, cause: 'sync', record: toRecord(this.#state) }
    const [last, how] = [...this.#ended].pop() ?? []
    return last && how ? { type: how, gen, sid: last } : { type: 'logout', gen }
  }

  /** A change from another tab: taken when the order says it replaces what this tab holds. */
  #adopt(change: Change): void {
    if (this.#destroyed) return
    if (change.type === 'session') {
      // Validated when it arrived (crossTab/tabMessage.ts).
      const next = fromRecord<Claims>(change.record)!
      if (replaces(next, this.#state, this.#ended)) this.#transition(next, { kind: 'adopt', cause: change.cause })
      return
    }
    if (!change.sid) return
    if (this.#state?.sid === change.sid) {
      this.#transition(undefined, { kind: change.type === 'logout' ? 'logout' : 'expire', here: false })
    } else {
      this.#remember(change.sid, change.type)
    }
  }

  #remember(sid: string, how: 'logout' | 'expired'): void {
    this.#ended.delete(sid)
    this.#ended.set(sid, how)
    if (this.#ended.size > ENDED_KEPT) this.#ended.delete(this.#ended.keys().next().value!)
  }

  /**
   * The one place the session changes. It sets the state, keeps storage, timers and the other tabs
   * in step, revokes a session that another one superseded, then emits the events of the change,
   * stopping if a listener made a newer one (which emits its own).
   */
  #transition(to: SessionState<Claims>, how: Transition): SessionState<Claims>
  #transition(to: undefined, how: Transition): undefined
  #transition(to: SessionState<Claims> | undefined, how: Transition): SessionState<Claims> | undefined {
    const from = this.#state
    const made = how.kind === 'login' || how.kind === 'refresh' ? how.kind : undefined
    const next = to && made ? { ...to, gen: ++this.#clock, tab: this.#tabId } : to
    if (next) this.#see(next.gen)
    const version = ++this.#version
    this.#state = next
    if (next?.sid !== from?.sid) this.#flight.reset()
    const events: [keyof AuthEvents<Claims>, unknown][] = []

    if (!next) {
      const how_ = how as Extract<Transition, { here: boolean }>
      const type = how.kind === 'logout' ? 'logout' : 'expired'
      this.#remember(from!.sid, type)
      this.#scheduler.cancel()
      this.#flight.wake()
      this.#persisted = this.#store.clear()
      if (how_.here) this.#sync?.publish({ type, gen: ++this.#clock, sid: from!.sid })
      if (type === 'logout') events.push(['logout', { reason: how_.here ? 'user' : 'other-tab' }])
      else events.push(['session-expired', { error: how_.error ?? new AuthError('session_expired', 'refresh: refused in another tab') }])
    } else {
      if (from && from.sid !== next.sid && (from.tab === this.#tabId || how.kind === 'login')) {
        // Superseded by another session: the tab that made it (or the new login) revokes it.
        void this.#protocol.revoke(from.session.accessToken, from.refreshToken)
      }
      this.#sidOf.set(next.session.accessToken, next.sid)
      if (this.#sidOf.size > ENDED_KEPT) this.#sidOf.delete(this.#sidOf.keys().next().value!)
      this.#scheduleRefresh(next)
      if (how.kind !== 'restore') this.#persisted = this.#store.save(next)
      // Other tabs hear of it once it is stored, so one that reads storage finds it.
      if (made) {
        void this.#persisted.then(() => {
          if (this.#state === next) this.#sync?.publish({ type: 'session', gen: next.gen, cause: made, record: toRecord(next) })
        })
      }
      const event =
        made ??
        (how.kind !== 'adopt' ? undefined : from?.sid === next.sid ? 'refresh' : how.cause === 'sync' && !from ? undefined : 'login')
      if (event) events.push([event, next.session])
    }
    if (how.kind !== 'restore' || !how.quiet) events.push(['change', next?.session ?? null])
    for (const [type, payload] of events) {
      if (this.#version !== version) break
      this.#emit(type, payload as never)
    }
    return next
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
