import type { CrossTabSync } from './crossTab/crossTabSync.js'
import { isAuthError, noSessionError } from './errors.js'
import type { AuthEvents } from './events.js'
import { isUsable, type ExpiryPolicy } from './expiry.js'
import { errorForLog } from './log.js'
import type { ProtocolCalls } from './protocols/Protocol.js'
import type { RefreshFlight } from './refreshFlight.js'
import type { Scheduler } from './scheduler.js'
import { createSessionState, toRecord, type SessionState, type TokenResponse } from './session.js'
import { sessionChange, type SessionMachine, type Transition } from './sessionMachine.js'
import { nextGen } from './sessionOrder.js'
import type { SessionStore } from './storage/sessionStore.js'
import { DEV } from './dev.js'

/** What the client's session work (renewing, restoring) needs from it. */
export interface SessionContext<Claims> {
  tabId: string
  machine: SessionMachine<Claims>
  flight: RefreshFlight<SessionState<Claims>>
  protocol: ProtocolCalls
  store: SessionStore<Claims>
  scheduler: Scheduler
  sync: CrossTabSync | undefined
  options: ExpiryPolicy & { refreshTokenInCookie: boolean }
  /** Applies a transition and carries it out; returns the state it produced. */
  transition(to: SessionState<Claims> | undefined, how: Transition): SessionState<Claims> | undefined
  emit<K extends keyof AuthEvents<Claims>>(type: K, payload: AuthEvents<Claims>[K]): void
  /** A session this tab learns of late (see SessionMachine.arrive), carried out. */
  arrive(state: SessionState<Claims>): void
  /** Settles once no session policy verdict is awaited (sessionPolicy.ts): no refresh goes out before. */
  settled(): Promise<void> | undefined
  destroyed(): boolean
}

/**
 * Renews session `sid` through the single flight: one tab sends the refresh token (the leader, see
 * crossTab/), the answer becomes the next state of that same session, and whatever replaced the
 * state meanwhile wins over a late answer. Rejects with `no_session` once that session is over,
 * never resolving with a later one.
 */
export function renewSession<Claims>(deps: SessionContext<Claims>, sid: string): Promise<SessionState<Claims>> {
  const { machine, options } = deps
  // Only a live client that still holds session `sid` waits for a retry, or schedules one.
  const current = (): SessionState<Claims> | undefined => (machine.state()?.sid === sid && !deps.destroyed() ? machine.state() : undefined)
  return deps.flight
    .run({
      attempt: () => refreshOnce(deps, sid),
      failed: (error) => deps.emit('error', error),
      mustWait: () => {
        const state = current()
        return !!state && !isUsable(state, options)
      },
      retryAt: (at) => current() && deps.scheduler.schedule(at, 'retry'),
    })
    .then((state) => {
      if (state.sid !== sid) throw noSessionError(deps.destroyed(), 'refresh')
      return state
    })
}

/** The state session `sid` is in now, or why there is none. */
function stateOf<Claims>(deps: SessionContext<Claims>, sid: string): SessionState<Claims> {
  const state = deps.machine.state()
  if (deps.destroyed() || !state || state.sid !== sid) throw noSessionError(deps.destroyed(), 'refresh')
  return state
}

async function refreshOnce<Claims>(deps: SessionContext<Claims>, sid: string): Promise<SessionState<Claims>> {
  const { machine, sync, protocol } = deps
  // Only while a verdict is awaited: otherwise the request leaves at once, as it always did.
  const verdict = deps.settled()
  if (verdict) await verdict
  const from = stateOf(deps, sid)
  const moved = (): boolean => machine.state() !== from
  // A tab destroyed while it waits must not go on: a follower would end up stealing the lock and
  // sending a refresh token the leader has used meanwhile.
  const stale = (): boolean => deps.destroyed() || moved()
  // Only one tab sends the refresh token; the others get the result from it.
  if (sync && !(await sync.clearToRefresh(toRecord(from), stale))) return stateOf(deps, sid)
  if (stale()) return stateOf(deps, sid)
  const log = DEV ? deps.options.log : undefined
  if (DEV) log?.('refresh started', { sid, rotation: from.rotation, withRefreshToken: from.refreshToken !== undefined })
  let tokens: TokenResponse
  try {
    tokens = await protocol.refresh(from.refreshToken, from.idToken)
  } catch (error) {
    if (moved()) return stateOf(deps, sid)
    if (isAuthError(error) && error.code === 'session_expired') {
      if (DEV) log?.('refresh refused', { sid, ...errorForLog(error) })
      // Refused here, but another tab may hold a newer state of it (a leader we took over from).
      // A destroyed tab does not wait to ask: it only clears storage and tells the others (no
      // events), so that the next tab does not send the refused token again.
      if (!deps.destroyed()) await sync?.askSiblings()
      if (moved()) {
        if (DEV) log?.('refresh refused, but another tab holds a newer state of the session: taken', { sid })
        return stateOf(deps, sid)
      }
      if (DEV) log?.('session expired: its refresh was refused', { sid })
      deps.transition(undefined, { kind: 'expire', here: true, error })
    }
    throw error
  }
  // Without a rotated refresh token the old one stays valid (RFC 6749 §6).
  const next = {
    ...createSessionState<Claims>('refresh', tokens, deps.options.clock.now()),
    refreshToken: tokens.refreshToken ?? from.refreshToken,
    sid: from.sid,
    born: from.born,
    loginAt: from.loginAt,
    // The last activity known (sessionPolicy.ts), also for a client destroyed meanwhile that hands these over.
    active: from.active,
    rotation: Math.min(from.rotation + 1, Number.MAX_SAFE_INTEGER),
  }
  if (DEV) {
    log?.('refresh done', {
      sid,
      rotation: next.rotation,
      expiresInMs: next.session.expiresAt - deps.options.clock.now(),
      refreshTokenRotated: tokens.refreshToken !== undefined && tokens.refreshToken !== from.refreshToken,
    })
  }
  if (stale()) return arrivedLate(deps, from, next)
  // A listener may have logged out already: the callers then get no session, not a dead one.
  deps.transition(next, { kind: 'refresh' })
  return stateOf(deps, sid)
}

/**
 * Tokens a refresh brought after the session moved on. The server has rotated already, so they
 * are neither dropped nor left valid: after `destroy()` they are stored for the next client and
 * told to the other tabs (the refresh token they hold was just used up); after a logout, an
 * expiry or another login they are revoked.
 */
function arrivedLate<Claims>(deps: SessionContext<Claims>, from: SessionState<Claims>, late: SessionState<Claims>): SessionState<Claims> {
  const held = deps.machine.state()
  if (DEV) deps.options.log?.('refresh answer came after the session moved on', { sid: from.sid, destroyed: deps.destroyed(), heldSid: held?.sid })
  if (deps.destroyed() && held === from) {
    handOver(deps, late, 'refresh')
  } else if (held?.sid !== from.sid) {
    revokeReplaced(deps, late)
  }
  return stateOf(deps, from.sid)
}

/**
 * A session a destroyed client got too late to hold, for which the server spent something (a
 * rotated refresh token, a redeemed code): stored for the next client and told to the other tabs,
 * rather than lost.
 */
export function handOver<Claims>(deps: SessionContext<Claims>, late: SessionState<Claims>, cause: 'login' | 'refresh'): void {
  const gen = nextGen(deps.machine.clock(), deps.options.clock.now())
  // A login's generation is its birth: a logout any tab made before it must not end it.
  const state = { ...late, gen, tab: deps.tabId, born: cause === 'login' ? gen : late.born }
  if (DEV) deps.options.log?.('session handed over to the next client (this one is destroyed): stored and told to the other tabs', { sid: state.sid, cause })
  void deps.store.save(state)
  deps.sync?.publish(sessionChange(state, gen, cause))
}

/**
 * Revokes a session that another one replaced, or tokens that arrived too late. With the refresh
 * token in an HttpOnly cookie there is nothing of its own to send: the revocation would carry the
 * cookie, which by now belongs to the session that replaced it, and end that one instead.
 */
export function revokeReplaced<Claims>(deps: SessionContext<Claims>, state: SessionState<Claims>): void {
  if (state.refreshToken !== undefined || !deps.options.refreshTokenInCookie) {
    if (DEV) deps.options.log?.('revoking the tokens of a replaced session', { sid: state.sid })
    void deps.protocol.revoke(state.session.accessToken, state.refreshToken, true)
  }
}

/** The token to replay a request with after a 401 on `rejected`: only one of the same session. */
export async function tokenAfterUnauthorized<Claims>(deps: SessionContext<Claims>, rejected: string): Promise<string | null> {
  const state = deps.machine.state()
  const log = DEV ? deps.options.log : undefined
  if (!state || deps.machine.sessionOf(rejected) !== state.sid) {
    if (DEV) log?.('401: not replayed, the request was made under a session that is over', { sid: state?.sid })
    return null
  }
  // Another request's 401 already brought a new token: replay with it, no second refresh.
  if (state.session.accessToken !== rejected) {
    if (DEV) log?.('401: replaying with the token a refresh brought meanwhile', { sid: state.sid })
    return state.session.accessToken
  }
  try {
    return (await renewSession(deps, state.sid)).session.accessToken
  } catch (error) {
    if (DEV) log?.('401: not replayed, the refresh failed', { sid: state.sid, ...errorForLog(error) })
    return null
  }
}
