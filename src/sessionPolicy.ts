import type { Clock } from './clock.js'
import type { ExpiryReason } from './events.js'
import { createScheduler } from './scheduler.js'
import type { SessionState } from './session.js'

/** The limits a session policy enforces. */
export type PolicyLimit = Exclude<ExpiryReason, 'refresh-refused'>

/** What counts as the user's activity; `visibilitychange` also shares it when the tab is hidden. */
const ACTIVITY = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'visibilitychange']
const LISTENING: AddEventListenerOptions = { capture: true, passive: true }

/**
 * How long a tab with no activity of its own waits past an idle end (or warning) before it acts:
 * a tab where the user was active tells the others at that moment, and the news must arrive first.
 */
export const GRACE_MS = 1_000

export interface PolicyOptions {
  clock: Clock
  idleTimeoutMs?: number | undefined
  maxSessionMs?: number | undefined
  sessionWarningMs: number
}

/** What the policy needs from the client. */
export interface PolicyHost {
  /** The session held now. */
  state(): SessionState<unknown> | undefined
  /** Ends the session held now, like an expiry, in every tab. */
  end(reason: PolicyLimit): void
  warn(reason: PolicyLimit, expiresAt: number): void
  extended(expiresAt: number): void
  /** Tells the other tabs, and storage, that the user was active at `at` (`state.active`). */
  share(state: SessionState<unknown>, at: number): void
}

export interface SessionPolicy {
  /** Gives a state the client is about to store and publish the last activity known of its session. */
  carry(to: SessionState<unknown> | undefined): void
  /**
   * Follows the session the client holds now (after a change): starts, moves or stops the timer
   * and the listeners; ends the session at once when a limit passed (a restore, a wake-up).
   */
  follow(to: SessionState<unknown> | undefined): void
  /** Ends the session now if a limit has passed (a timer late after sleep); whether it did. */
  lapsed(): boolean
  /** Activity another tab tells of. */
  heard(sid: string, at: number): void
  /** `auth.extendSession()`: activity here, told to the other tabs at once. */
  extend(): void
}

/**
 * `idleTimeoutMs` and `maxSessionMs`, across tabs. Each tab notes its user's last activity (one
 * timestamp per event, nothing else) and tells the others only when it matters: at the times a
 * warning or the end would come, and when the tab is hidden. Every tab knows the same last activity
 * and computes the same end; a tab with no activity of its own waits `GRACE_MS` past it for news
 * before it acts. The last activity travels in the session record, so a reload, a new tab, and time
 * with no tab open all count. The max age runs from the login (`born`, on the wall clock).
 *
 * Undefined when neither limit is set: no listener, no timer, nothing to pay at run time.
 */
export function createSessionPolicy(options: PolicyOptions, host: PolicyHost): SessionPolicy | undefined {
  const { clock, idleTimeoutMs: idle, maxSessionMs: max, sessionWarningMs } = options
  if (!idle && !max) return undefined
  /** The session followed, while one is held. */
  let sid: string | undefined
  /** The last activity every tab knows of, and the last one here, not yet told. */
  let known = 0
  let seen = 0
  /** When the session ends by what this tab knows (no activity seen after `known`). */
  let endAt = Infinity
  /** The end a `session-warning` was emitted for. */
  let warned: number | undefined
  const timer = createScheduler(clock, () => void check())

  const onActivity = (event: Event): void => {
    const now = clock.now()
    const hidden = event.type === 'visibilitychange' && document.hidden
    // Activity after the end (a laptop woken up) must not bring the session back.
    if (!hidden && now < endAt) seen = now
    if (hidden || warned !== undefined || now >= endAt) check()
  }

  const listen = (method: 'addEventListener' | 'removeEventListener'): void => {
    if (idle) for (const type of ACTIVITY) globalThis.document?.[method](type, onActivity, LISTENING)
  }

  /** Shares activity seen here, then ends, warns or waits; whether the session ended. */
  function check(): boolean {
    const state = host.state()
    if (!state || state.sid !== sid) return false
    const now = clock.now()
    if (seen > known) {
      state.active = known = seen
      host.share(state, known)
    }
    const idleEnd = idle ? known + idle : Infinity
    const ageEnd = max ? state.born + max : Infinity
    const reason: PolicyLimit = ageEnd <= idleEnd ? 'max-age' : 'idle'
    const end = (endAt = Math.min(idleEnd, ageEnd))
    const grace = reason === 'idle' ? GRACE_MS : 0
    if (now >= end + grace) {
      host.end(reason)
      return true
    }
    const warnAt = end - Math.min(sessionWarningMs, (reason === 'idle' ? idle! : max!) / 2)
    if (now >= warnAt + grace) {
      if (warned !== end) host.warn(reason, (warned = end))
    } else if (warned !== undefined) {
      warned = undefined
      host.extended(end)
    }
    // A tab with activity tells it at `warnAt` and `end`; the others act `grace` later.
    timer.schedule([warnAt, warnAt + grace, end, end + grace].find((at) => at > now)!, 'refresh')
    return false
  }

  function stop(): void {
    sid = undefined
    warned = undefined
    endAt = Infinity
    timer.cancel()
    listen('removeEventListener')
  }

  return {
    carry(to) {
      if (to && to.sid === sid) to.active = known = Math.max(known, Math.min(to.active ?? 0, clock.now()))
    },
    follow(to) {
      if (!to) return stop()
      if (to.sid !== sid) {
        stop()
        sid = to.sid
        seen = 0
        // New to this tab: the last activity its record knows, else its last change (for a login
        // made here, the login itself). Never in the future: that would keep it alive for good.
        to.active = known = Math.min(to.active ?? to.gen, clock.now())
        listen('addEventListener')
      }
      check()
    },
    lapsed: () => clock.now() >= endAt && check(),
    heard(from, at) {
      const state = host.state()
      if (!state || from !== sid || at <= known) return
      state.active = known = Math.min(at, clock.now())
      check()
    },
    extend() {
      if (clock.now() < endAt) seen = clock.now()
      check()
    },
  }
}
