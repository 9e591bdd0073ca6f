import type { Clock } from './clock.js'
import type { ExpiryReason } from './events.js'
import type { Logger } from './log.js'
import { createScheduler } from './scheduler.js'
import type { SessionState } from './session.js'
import { DEV } from './dev.js'

/** The limits a session policy enforces. */
export type PolicyLimit = Exclude<ExpiryReason, 'refresh-refused'>

/** What counts as the user's activity; `visibilitychange` also tells it when the tab is hidden. */
const ACTIVITY = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'visibilitychange']
const LISTENING: AddEventListenerOptions = { capture: true, passive: true }

/**
 * How long a tab with no activity of its own waits past an idle end (or warning) before it acts:
 * at that moment it asks, and a tab where the user was active answers, and the news must arrive.
 */
export const GRACE_MS = 1_000
/** While the user is active, a tab tells the others at most this often (and a quarter of the timeout). */
const SHARE_EVERY_MS = 60_000

export interface PolicyOptions {
  clock: Clock
  idleTimeoutMs?: number | undefined
  maxSessionMs?: number | undefined
  sessionWarningMs: number
  /** No other tab to hear from (crossTab off): nothing to ask before an end. */
  alone: boolean
  log?: Logger | undefined
}

/** What the policy needs from the client. */
export interface PolicyHost {
  /** The session held now. */
  state(): SessionState<unknown> | undefined
  /** Ends the session held now, like an expiry, in every tab. */
  end(reason: PolicyLimit): void
  warn(reason: PolicyLimit, expiresAt: number): void
  extended(expiresAt: number): void
  /** Tells the other tabs the last activity known here; `save` stores it with the session too. */
  tell(state: SessionState<unknown>, at: number, save?: boolean): void
}

export interface SessionPolicy {
  /** Gives a state the client is about to store and publish the last activity known of its session. */
  carry(to: SessionState<unknown> | undefined): void
  /**
   * Follows the session the client holds now (after a change): starts, moves or stops the timer
   * and the listeners; ends the session at once when a limit passed (a restore, a wake-up).
   */
  follow(to: SessionState<unknown> | undefined): void
  /**
   * Ends the session now if a limit has passed (a timer late after sleep); whether it did, or
   * whether the tab waits for the other tabs' answer before it decides (see `settled`).
   */
  lapsed(): boolean
  /** While a verdict is awaited, what settles once it is given: token and refresh paths wait for it. */
  settled(): Promise<void> | undefined
  /** What another tab knows of the last activity in session `sid`. */
  heard(sid: string | undefined, at: number | undefined): void
  /** `auth.extendSession()`: activity here, told to the other tabs at once. */
  extend(): void
}

/**
 * `idleTimeoutMs` and `maxSessionMs`, across tabs.
 *
 * Each tab notes its user's last activity (a timestamp per event) and tells the others when it
 * matters: at most once a minute while the user is active, when the tab is hidden or left, and at
 * the times a warning or the end is due. A tab with no activity of its own asks at those times
 * (it tells what it knows; a tab that knows more answers) and acts `GRACE_MS` later. The last
 * activity travels in the session record, so a reload, a new tab, and time with no tab open count.
 * The max age runs from the login on the wall clock (`loginAt`); no news can move it.
 *
 * Undefined when neither limit is set: no listener, no timer, nothing to pay at run time.
 */
export function createSessionPolicy(options: PolicyOptions, host: PolicyHost): SessionPolicy | undefined {
  const { clock, idleTimeoutMs: idle, maxSessionMs: max, sessionWarningMs } = options
  if (!idle && !max) return undefined
  /** The last reading of the wall clock, and of the monotonic one then. */
  let last = 0
  let lastTick = 0
  const tick = (): number => globalThis.performance?.now() ?? 0
  // Whole milliseconds: records and messages carry them as counts.
  const now = (): number => {
    const at = Math.floor(clock.now())
    const ticked = tick()
    // The wall clock set back (by hand, or a large correction), told from the time that passed
    // meanwhile: the limits go back with it, or they would gain what it lost. Checked again once
    // the caller is done. (A sleep moves the wall clock on, never back.)
    const back = last + ticked - lastTick - at
    if (back > GRACE_MS && sid !== undefined) {
      known -= back
      seen = seen && seen - back
      ageAt -= back
      nextAt -= back
      const state = host.state()
      if (state) state.active = known
      queueMicrotask(check)
    }
    lastTick = ticked
    return (last = at)
  }
  const shareEvery = Math.min(SHARE_EVERY_MS, idle! / 4)
  /** The session followed, while one is held. */
  let sid: string | undefined
  /** The last activity every tab knows of, and the last one here, maybe not told yet. */
  let known = 0
  let seen = 0
  /** When the max age ends the session followed. */
  let ageAt = Infinity
  /** When this tab's timer checks next (a later wake-up means it slept). */
  let nextAt = Infinity
  /** The end a `session-warning` was emitted for. */
  let warned: number | undefined
  /** The idle end this tab last asked the others about. */
  let askedFor = 0
  /** Until when the tab waits for answers before it decides on an idle end; and who waits with it. */
  let pendingUntil = 0
  let waiting: { promise: Promise<void>; resolve(): void } | undefined
  const settle = (): void => {
    pendingUntil = 0
    waiting?.resolve()
    waiting = undefined
  }
  const timer = createScheduler(
    { now, setTimeout: (run, ms) => clock.setTimeout(run, ms), clearTimeout: (handle) => clock.clearTimeout(handle) },
    () => void check(true),
  )

  /** When the session ends by what this tab saw: activity after that brings nothing back. */
  const endOf = (): number => Math.min(Math.max(known, seen) + (idle ?? Infinity), ageAt)

  const onActivity = (event: Event): void => {
    const at = now()
    const hidden = event.type === 'visibilitychange' && document.hidden
    if (!hidden && at < endOf()) seen = at
    if (hidden || warned !== undefined || at >= nextAt || seen - known >= shareEvery) check()
  }

  const listen = (method: 'addEventListener' | 'removeEventListener'): void => {
    if (idle) for (const type of ACTIVITY) globalThis.document?.[method](type, onActivity, LISTENING)
  }

  /** Tells activity seen here, then ends, warns or waits; whether the session ended. */
  function check(timed?: boolean): boolean {
    const state = host.state()
    if (!state || state.sid !== sid) return false
    const at = now()
    const told = seen > known
    if (told) host.tell(state, (state.active = known = seen), true)
    const idleAt = idle ? known + idle : Infinity
    // A tab with no news acts GRACE_MS past the idle end; the max age needs none. The reason is
    // whichever came first (a tab may wake from sleep past both).
    if (at >= Math.min(ageAt, idleAt + GRACE_MS)) {
      const limit = ageAt <= idleAt + GRACE_MS ? 'max-age' : 'idle'
      if (limit === 'idle' && !options.alone && (askedFor !== idleAt || at < pendingUntil)) {
        // Past an idle end it never asked about (its timers slept, or a record restored late): ask
        // now, and hold every token and refresh until the answers had time to come.
        if (askedFor !== idleAt) {
          askedFor = idleAt
          pendingUntil = at + GRACE_MS
          host.tell(state, known)
        }
        if (!waiting) {
          let resolve!: () => void
          const promise = new Promise<void>((done) => (resolve = done))
          waiting = { promise, resolve }
        }
        timer.schedule((nextAt = pendingUntil), 'refresh')
        return true
      }
      settle()
      if (DEV) options.log?.(`session policy: ended by ${limit}`, { sid, lastActivityMsAgo: at - known })
      host.end(limit)
      return true
    }
    settle()
    const reason: PolicyLimit = ageAt <= idleAt ? 'max-age' : 'idle'
    const end = Math.min(idleAt, ageAt)
    // The warning never comes after the end it announces, however short sessionWarningMs is.
    const grace = reason === 'idle' ? Math.min(GRACE_MS, sessionWarningMs / 2) : 0
    const warnAt = end - Math.min(sessionWarningMs, (reason === 'idle' ? idle! : max!) / 2)
    // No activity here when the warning or the end is due: ask the others, who answer if they know more.
    if (timed && !told && reason === 'idle' && at >= warnAt) {
      askedFor = idleAt
      host.tell(state, known)
    }
    // The next check, armed before any event: a listener may end the session (and stop the timer).
    nextAt = Math.min(...[warnAt, warnAt + grace, idleAt, idleAt + GRACE_MS, ageAt].filter((t) => t > at))
    timer.schedule(nextAt, 'refresh')
    // Put off (activity, or the idle end moved past the max age): the warning out is over.
    if (warned !== undefined && end > warned) {
      warned = undefined
      if (DEV) options.log?.('session policy: idle end put off', { sid, inMs: end - at })
      host.extended(end)
    }
    if (sessionWarningMs && at >= warnAt + grace && warned !== end && sid === state.sid) {
      if (DEV) options.log?.('session policy: warning', { sid, reason, inMs: end - at })
      host.warn(reason, (warned = end))
    }
    return false
  }

  return {
    carry(to) {
      if (to && to.sid === sid) to.active = known = Math.max(known, Math.min(to.active ?? 0, now()))
    },
    follow(to) {
      if (to?.sid === sid && to) return void check()
      // Activity not told yet goes to the other tabs before this tab lets go (destroy()).
      const state = host.state()
      if (state && state.sid === sid && seen > known) host.tell(state, (state.active = seen), true)
      sid = to?.sid
      warned = undefined
      askedFor = 0
      settle()
      ageAt = nextAt = Infinity
      timer.cancel()
      listen('removeEventListener')
      if (!to) return
      const at = now()
      seen = 0
      // New to this tab: the last activity its record knows, else its last change (for a login
      // made here, the login itself). Never in the future: that would keep it alive for good.
      to.active = known = Math.min(to.active ?? to.gen, at)
      if (max) ageAt = Math.min(to.loginAt, at) + max
      listen('addEventListener')
      check()
    },
    lapsed: () => now() >= endOf() && check(),
    settled: () => waiting?.promise,
    heard(from, at) {
      const state = host.state()
      if (!state || from !== sid || at === undefined) return
      // Behind: tell what this tab knows (a tab asking at its end, or a reloaded one).
      if (at < known) host.tell(state, known)
      else state.active = known = Math.min(at, now())
      check()
    },
    extend() {
      const at = now()
      if (at < endOf()) seen = at
      check()
    },
  }
}
