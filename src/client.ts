import type { JwtPayload } from 'jwt-decode'
import { createAuthFetch } from './authFetch.js'
import { createCrossTabSync, type CrossTabSync } from './crossTab/crossTabSync.js'
import { createEmitter, type Emitter, type Listener } from './emitter.js'
import { AuthError, isAuthError, noSessionError } from './errors.js'
import type { AuthEvents } from './events.js'
import { isUsable, refreshDueAt } from './expiry.js'
import type { AuthClientOptions } from './options.js'
import type { Credentials } from './protocols/Protocol.js'
import { createRefreshFlight, type RefreshFlight } from './refreshFlight.js'
import { createScheduler, type Scheduler } from './scheduler.js'
import { createSessionState, randomId, toRecord, type Session, type SessionState, type TokenResponse } from './session.js'
import { createSessionMachine, type Outcome, type SessionMachine, type Transition } from './sessionMachine.js'
import { createSessionPolicy, type SessionPolicy } from './sessionPolicy.js'
import { transitionForLog } from './log.js'
import { handOver, renewSession, revokeReplaced, tokenAfterUnauthorized, type SessionContext } from './sessionRefresh.js'
import { renewRestored, restoreSession } from './sessionRestore.js'
import { resolveOptions, type ResolvedOptions } from './resolveOptions.js'
import { createSessionStore, type SessionStore } from './storage/sessionStore.js'
import { DEV } from './dev.js'

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
const EVENTS: readonly PropertyKey[] = ['login', 'refresh', 'logout', 'session-expired', 'session-warning', 'session-extended', 'error', 'change'] satisfies (keyof AuthEvents)[]

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
  // The constructor sets `ready`, then `fetch`: `declare` keeps them out of the emitted class body.
  /**
   * Settles once the session stored earlier is restored (and refreshed, if it had expired), or,
   * when the page is the redirect back from an identity provider (`tokenkeeper/oidc`), once that
   * login completed. Never rejects: storage failures and a refused or bad callback become `error`
   * events.
   */
  declare readonly ready: Promise<Session<Claims> | null>

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
  declare readonly fetch: typeof globalThis.fetch

  readonly #options: ResolvedOptions
  readonly #store: SessionStore<Claims>
  readonly #events: Emitter<AuthEvents<Claims>> = createEmitter()
  readonly #scheduler: Scheduler
  readonly #flight: RefreshFlight<SessionState<Claims>>
  readonly #machine: SessionMachine<Claims>
  readonly #sync: CrossTabSync | undefined
  /** `idleTimeoutMs` and `maxSessionMs`, when either is set. */
  readonly #policy: SessionPolicy | undefined
  /** Counts `login()` and `logout()` calls: the answer to an older call never undoes a newer one. */
  #intents = 0
  /** The count of the latest `logout()`: whether it, rather than a newer login, overtook a login. */
  #loggedOut = 0
  /** A login by redirect that this client completes (see `ready`), and then the session. */
  #redirected: Promise<Session<Claims> | null> | undefined
  /** The storage write of the latest transition. */
  #persisted: Promise<void> = Promise.resolve()
  #destroyed = false
  /** What the session work in sessionRefresh.ts and sessionRestore.ts needs from this client. */
  readonly #context: SessionContext<Claims>

  constructor(options: AuthClientOptions) {
    const o = (this.#options = resolveOptions(options))
    const tabId = randomId()
    this.#machine = createSessionMachine(tabId, () => o.clock.now())
    this.#store = createSessionStore({ ...o, server: o.protocol.id }, (error) => this.#emit('error', error))
    this.#scheduler = createScheduler(o.clock, () => void this.refresh().catch(noop))
    this.#flight = createRefreshFlight(o)
    // Cross-tab only in a browser (in Node a BroadcastChannel would keep the process alive), and
    // one with Web Locks and BroadcastChannel: every browser since 2022.
    this.#sync =
      o.crossTab && o.locks && typeof window !== 'undefined' && typeof BroadcastChannel === 'function'
        ? createCrossTabSync(
            {
              ...this.#machine,
              tabId,
              held: () => this.#state && toRecord(this.#state),
              adopt: (change) => {
                if (change.type === 'activity') return this.#policy?.heard(change.sid, change.at)
                // A session's record tells what its sender knows of the last activity.
                if (change.type === 'session') this.#policy?.heard(change.record.sid, change.record.active)
                const outcome = this.#machine.adopt(change)
                // Destroyed, it still follows the other tabs while its channel is open (a refresh in
                // flight must know whether its answer is still news), but acts on nothing.
                if (!this.#destroyed) this.#perform(outcome)
              },
              // For another tab: joins the flight in progress (also once destroyed, see destroy()),
              // or answers with the failure whose retry is still ahead, instead of a new request.
              refresh: () => {
                this.#policy?.lapsed()
                const held = this.#flight.held()
                if (held && !this.#flight.current()) return Promise.reject(held)
                return this.#state ? renewSession(this.#context, this.#state.sid) : Promise.reject(noSessionError(this.#destroyed, 'refresh'))
              },
            },
            {
              ...o,
              locks: o.locks,
              name: `tokenkeeper:${o.storageKey}@${o.protocol.id}`,
            },
          )
        : undefined
    this.#policy = createSessionPolicy({ ...o, alone: !this.#sync }, {
      state: () => this.#state,
      end: (reason) => {
        const state = this.#state!
        this.#transition(undefined, { kind: 'expire', here: true, reason, error: new AuthError('session_expired', DEV ? `session: ended by ${reason === 'idle' ? 'idleTimeoutMs' : 'maxSessionMs'}` : '') })
        // Unlike a refused refresh, the server still holds a live session: end it there too.
        void o.protocol.revoke(state.session.accessToken, state.refreshToken)
      },
      warn: (reason, expiresAt) => this.#emit('session-warning', { reason, expiresAt }),
      extended: (expiresAt) => this.#emit('session-extended', { expiresAt }),
      tell: (state, at, save) => {
        this.#sync?.publish({ type: 'activity', gen: this.#machine.clock(), sid: state.sid, at })
        if (save) this.#persisted = this.#store.save(state as SessionState<Claims>)
      },
    })
    this.#context = {
      tabId,
      machine: this.#machine,
      flight: this.#flight,
      protocol: o.protocol,
      store: this.#store,
      scheduler: this.#scheduler,
      sync: this.#sync,
      options: o,
      transition: (to, how) => this.#transition(to, how),
      emit: (type, payload) => this.#emit(type, payload),
      arrive: (state) => this.#perform(this.#machine.arrive(state, 'sync')),
      settled: () => this.#policy?.settled(),
      destroyed: () => this.#destroyed,
    }
    // A login by redirect completes before the stored session is read: it is the newer one.
    const resumed = this.#options.protocol.resume()
    const restored = restoreSession(this.#context, !!resumed)
    // A login by redirect, the user's latest action, lands once this tab knows the session that
    // storage or the other tabs hold (before renewing it): so it replaces, and revokes, that session.
    this.#redirected =
      resumed &&
      this.#signIn(resumed.finally(() => restored), true).then(
        () => this.getSession(),
        (error) => {
          this.#emit('error', error)
          // No login: what the restore found is the session, renewed first if it expired.
          const state = this.#state
          return state && !isUsable(state, o) ? renewRestored(this.#context, state) : this.getSession()
        },
      )
    this.ready = (this.#redirected ?? restored).finally(() => this.#machine.started())
    this.fetch = createAuthFetch(
      o,
      () => (!this.#policy?.lapsed() && this.#state && isUsable(this.#state, o) ? this.#state.session.accessToken : undefined),
      () => this.getAccessToken(),
      (rejected) => (this.#policy?.lapsed(), tokenAfterUnauthorized(this.#context, rejected)),
    )
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
      throw new AuthError('invalid_argument', DEV ? `on: no event ${JSON.stringify(type)}, or the listener is not a function` : '')
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
  async login(credentials: Credentials = {}): Promise<Session<Claims>> {
    if (this.#destroyed) throw noSessionError(true, 'login')
    if (typeof credentials !== 'object' || !credentials || Array.isArray(credentials)) {
      throw new AuthError('invalid_argument', DEV ? 'login: credentials must be an object' : '')
    }
    return this.#signIn(this.#options.protocol.login(credentials))
  }

  /** Makes a login of the tokens on their way, unless a newer `login()` or `logout()` came meanwhile. */
  async #signIn(arriving: Promise<TokenResponse>, redirected?: boolean): Promise<Session<Claims>> {
    const intent = ++this.#intents
    const tokens = await arriving
    let state: SessionState<Claims>
    try {
      state = createSessionState<Claims>('login', tokens, this.#options.clock.now())
    } catch (error) {
      void this.#options.protocol.revoke(tokens?.accessToken, tokens?.refreshToken)
      throw error
    }
    if (this.#destroyed || intent !== this.#intents) {
      if (DEV) this.#options.log?.(this.#destroyed ? 'login: answered after destroy()' : 'login: overtaken by a newer login() or logout(); its session is revoked')
      // A redirect's code is spent: a client destroyed meanwhile (React StrictMode's second effect)
      // leaves the session to the next one. Otherwise it is revoked: in full after a logout, as
      // replaced after a newer login (which may share its grant at the server).
      if (this.#destroyed && redirected) handOver(this.#context, state, 'login')
      else void this.#options.protocol.revoke(state.session.accessToken, state.refreshToken, !this.#destroyed && this.#loggedOut < intent)
      throw this.#destroyed ? noSessionError(true, 'login') : new AuthError('aborted', DEV ? 'login: a newer login() or logout() was called meanwhile; this session was revoked' : '')
    }
    const made = this.#transition(state, { kind: 'login' })
    // A listener may have logged out already: never hand out a session that is over.
    if (!made || this.#state !== made) throw new AuthError('aborted', DEV ? 'login: the session ended before login() returned' : '')
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
    this.#loggedOut = ++this.#intents
    const state = this.#state
    // Without a session here the tab remembers when it logged out: a session on its way (from
    // storage, another tab or a cookie resume, while the tab starts) is ended when it arrives.
    this.#transition(undefined, { kind: 'logout', here: true })
    await this.#persisted
    // With the refresh token in an HttpOnly cookie, the server may hold a session this page has not
    // loaded yet (a resume on its way): only the server can end that one.
    if (!state && !this.#options.refreshTokenInCookie) return { revoked: false }
    const revoked = await this.#options.protocol.revoke(state?.session.accessToken, state?.refreshToken)
    if (DEV) this.#options.log?.('logout: revocation at the server', { revoked })
    this.#options.protocol.afterLogout(state?.idToken)
    return { revoked }
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
    this.#policy?.lapsed()
    if (this.#destroyed || !this.#state) throw noSessionError(this.#destroyed, 'refresh')
    return (await renewSession(this.#context, this.#state.sid)).session
  }

  /**
   * A valid access token, refreshed first when it has less than `minTokenValidityMs` left;
   * `null` when logged out, or when the session current at the call ended meanwhile.
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
    // The session of the call: one that ends meanwhile gives no token, never a later session's.
    const sid = this.#state?.sid
    await this.ready
    // A tab that woke past an idle end asks the others first (sessionPolicy.ts): wait for the verdict.
    if (this.#policy?.lapsed()) await this.#policy.settled()
    const state = this.#state
    if (!state || (sid !== undefined && state.sid !== sid)) return null
    if (isUsable(state, this.#options)) return state.session.accessToken
    try {
      return (await renewSession(this.#context, state.sid)).session.accessToken
    } catch (error) {
      // Logged out (or destroyed) while waiting: that is "no token", not a failure.
      if (isAuthError(error) && (error.code === 'no_session' || error.code === 'destroyed')) return null
      throw error
    }
  }

  /**
   * Puts off the end by `idleTimeoutMs`, in every tab, as activity would: the answer to a
   * `session-warning` ("still there?"). Nothing happens without a session, once the session ended,
   * or without `idleTimeoutMs` (`maxSessionMs` is never put off).
   *
   * @example
   * ```ts
   * auth.on('session-warning', ({ expiresAt }) => showStillThereDialog(expiresAt, () => auth.extendSession()))
   * ```
   */
  extendSession(): void {
    this.#policy?.extend()
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
    this.#policy?.follow(undefined)
    this.#machine.touch()
    this.#store.close()
    this.#scheduler.cancel()
    this.#flight.wake()
    this.#events.clear()
    // A refresh in flight has spent the refresh token: keep the channel and the leader lock until
    // its result is told, or the tab that takes over would send the spent token again.
    // So does a login by redirect still being completed, whose session goes to the next client.
    const sync = this.#sync
    const flight = this.#flight.current()
    if (flight) sync?.retire() // a follower waiting on the leader gives up now
    const busy = flight ?? this.#redirected
    if (busy) void busy.catch(noop).finally(() => sync?.close())
    else sync?.close()
    if (DEV) this.#options.log?.(busy ? 'client destroyed; its tab channel stays open until the refresh or redirect login in flight is told' : 'client destroyed')
  }

  get #state(): SessionState<Claims> | undefined {
    return this.#machine.state()
  }

  /** Applies a transition (sessionMachine.ts) and carries it out; returns the state it produced. */
  #transition(to: SessionState<Claims> | undefined, how: Transition): SessionState<Claims> | undefined {
    const outcome = this.#machine.apply(to, how)
    this.#perform(outcome)
    return outcome.to
  }

  /**
   * Carries out a transition (sessionMachine.ts): storage, timers, the other tabs and the server
   * follow the new state, then its events are emitted, stopping if a listener made a newer one
   * (which emits its own).
   */
  #perform(outcome: Outcome<Claims> | undefined): void {
    if (!outcome) return
    const { from, to, persist, publish, revoke, events } = outcome
    const version = this.#machine.version()
    if (DEV && events.length) this.#options.log?.(...transitionForLog(outcome))
    if (to?.sid !== from?.sid) this.#flight.reset()
    if (to) {
      const canRefresh = to.refreshToken !== undefined || this.#options.protocol.refreshesWithoutToken
      this.#scheduler.schedule(refreshDueAt(to, canRefresh, this.#options), 'refresh')
    } else {
      this.#scheduler.cancel()
      this.#flight.wake()
    }
    this.#policy?.carry(to)
    if (persist) this.#persisted = persist === 'save' ? this.#store.save(to!) : this.#store.clear()
    if (revoke) revokeReplaced(this.#context, revoke)
    // Told at once, not once stored: a slow storage (up to storageTimeoutMs) must not delay the
    // news past a follower's patience. A tab that starts meanwhile and reads the older record from
    // storage asks the others about it before it is ready.
    if (publish) this.#sync?.publish(publish)
    // After the change is stored and told: a limit that passed (a restore) ends it right after.
    if (!this.#destroyed) this.#policy?.follow(to)
    for (const [type, payload] of events) {
      if (this.#machine.version() !== version) break
      this.#emit(type, payload as never)
    }
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
