import { AuthError, isAuthError } from './errors.js'
import { isUsable } from './expiry.js'
import { errorForLog } from './log.js'
import { createSessionState, type Session, type SessionState } from './session.js'
import { isGen } from './sessionOrder.js'
import { sessionChange } from './sessionMachine.js'
import { renewSession, type SessionContext } from './sessionRefresh.js'
import { DEV } from './dev.js'

/**
 * What `ready` settles to: the session kept in storage (renewed first if it expired while the app
 * was closed), else one another tab holds, else, with the refresh token in an HttpOnly cookie, one
 * the server resumes. Whatever arrives meanwhile (a login, a logout, another tab's session) is
 * newer than storage and wins. `redirecting`: a login by redirect will replace the session, so it
 * stops once it knows the session (to be revoked by that login), renewing or resuming nothing.
 */
export async function restoreSession<Claims>(context: SessionContext<Claims>, redirecting: boolean): Promise<Session<Claims> | null> {
  const { machine, store, sync } = context
  const current = (): Session<Claims> | null => machine.state()?.session ?? null
  const version = machine.version()
  const log = DEV ? context.options.log : undefined
  let state = await store.load()
  if (DEV) {
    log?.(
      state ? 'restore: a session found in storage' : 'restore: no session in storage',
      state && { sid: state.sid, rotation: state.rotation, expiresInMs: state.session.expiresAt - context.options.clock.now(), withRefreshToken: state.refreshToken !== undefined },
    )
  }
  if (state && !isGen(state.gen, machine.clock(), context.options.clock.now())) {
    if (DEV) log?.('restore: the stored session is out of range; removing it', { sid: state.sid })
    context.emit('error', new AuthError('storage', DEV ? 'storage: the stored session is out of range; it was removed' : ''))
    state = undefined
    void store.clear()
  }
  if (context.destroyed()) return current()
  if (version !== machine.version() || !state) {
    if (DEV && state) log?.('restore: a login, logout or another tab came first; the stored session is only news now', { sid: state.sid })
    // A login, logout or another tab's session came first: the stored one is only news now.
    if (state) context.arrive(state)
    // Memory and sessionStorage are per tab: another tab may hold the session (or, after a logout
    // made while starting, the session that logout ends).
    else if (!machine.state()) await sync?.askSiblings()
    // Not during SSR: the server has no cookie to send, and must not call the auth server per render.
    if (context.options.refreshTokenInCookie && typeof window !== 'undefined' && version === machine.version() && !redirecting) await resume(context)
    if (DEV) log?.(machine.state() ? 'restore: done, with the session of another tab or of the server' : 'restore: done, logged out', { sid: machine.state()?.sid })
    return current()
  }
  // Expired while the app was closed: renew before showing it; transient failures keep it.
  const usable = isUsable(state, context.options)
  context.transition(state, { kind: 'restore', quiet: !usable })
  // A record kept per tab (sessionStorage) may be behind the other tabs (a newer rotation, a
  // logout, another login): ask them about it first; what they answer wins.
  await sync?.askSiblings(state.sid)
  if (machine.state() !== state || redirecting) {
    if (DEV) {
      log?.(redirecting ? 'restore: done; a login by redirect replaces the session' : 'restore: done; another tab held a newer state, taken', { sid: machine.state()?.sid })
    }
    return current()
  }
  // Kept: the tabs that hold no session take it now (their answers said they had none).
  sync?.publish(sessionChange(state, machine.clock(), 'sync'))
  if (DEV) log?.(usable ? 'restore: done, with the stored session' : 'restore: the stored session expired while the app was closed; renewing it', { sid: state.sid })
  return usable ? state.session : renewRestored(context, state)
}

/**
 * A restored session that expired while the app was closed, renewed before it is shown; a
 * transient failure keeps it, and shows it.
 */
export async function renewRestored<Claims>(context: SessionContext<Claims>, state: SessionState<Claims>): Promise<Session<Claims> | null> {
  try {
    return (await renewSession(context, state.sid)).session
  } catch (error) {
    if (DEV) context.options.log?.('restore: renewal failed', { sid: state.sid, kept: context.machine.state() === state, ...errorForLog(error) })
    if (context.machine.state() === state) context.emit('change', state.session)
    return context.machine.state()?.session ?? null
  }
}

/**
 * Gets a session with the HttpOnly refresh cookie alone, after a reload. One tab at a time: two
 * tabs opened together would send the same rotating cookie, and the second would be refused for
 * reuse. So each asks the others again once it holds the lock, and the first one's session wins.
 */
async function resume<Claims>(context: SessionContext<Claims>): Promise<void> {
  const { machine, sync } = context
  const attempt = async (): Promise<void> => {
    const version = machine.version()
    await sync?.askSiblings()
    if (version !== machine.version() || context.destroyed()) return
    // (No log inside the try block: the production build would keep its test.)
    if (DEV) context.options.log?.('resume: asking the server for a session with the refresh cookie')
    try {
      const state = createSessionState<Claims>('refresh', await context.protocol.refresh(undefined), context.options.clock.now())
      if (version === machine.version() && !context.destroyed()) context.transition(state, { kind: 'refresh' })
    } catch (error) {
      if (DEV) context.options.log?.('resume: no session from the server', errorForLog(error))
      // No cookie, or a dead one: simply logged out. Only a transient failure is worth telling.
      if (isAuthError(error) && error.code !== 'session_expired') context.emit('error', error)
    }
  }
  await (sync ? sync.exclusive(attempt) : attempt())
}
