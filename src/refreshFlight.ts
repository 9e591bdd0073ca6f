import { retryDelay } from './backoff.js'
import type { Clock, TimerHandle } from './clock.js'
import { AuthError, isAuthError, isTransient } from './errors.js'
import { errorForLog, type Logger } from './log.js'
import { MAX_TIMER_DELAY_MS } from './scheduler.js'
import { DEV } from './dev.js'

export interface RefreshFlightConfig {
  clock: Clock
  retryMinDelayMs: number
  retryMaxDelayMs: number
  /** How many attempts a caller waiting for a token sits through before its call rejects. */
  retryAttempts: number
  /** The debug log (development build). */
  log?: Logger | undefined
}

/** What one refresh needs from the client. */
export interface RefreshTask<T> {
  /** One attempt. Rejects with an `AuthError`; a transient one is retried. */
  attempt(): Promise<T>
  /** A transient failure, before its retry (the client emits it as an `error` event). */
  failed(error: AuthError): void
  /** Whether a caller must wait for the retry: its token no longer works. */
  mustWait(): boolean
  /** Retries later, in the background, at `at` on the wall clock (the client's scheduler). */
  retryAt(at: number): void
}

export interface RefreshFlight<T> {
  /** Runs `task`, or joins the run in progress: one refresh at a time. */
  run(task: RefreshTask<T>): Promise<T>
  /** The run in progress, if any. */
  current(): Promise<T> | undefined
  /**
   * The last transient failure while its retry is still ahead (with `retryAfterMs` set to the
   * time left), so the leader can answer other tabs with it instead of asking the server again.
   */
  held(): AuthError | undefined
  /** Ends the wait between retries now: the session ended, or the network came back. */
  wake(): void
  /**
   * Starts over for another session: past failures are forgotten, and the run in progress (which
   * will find its session gone) is left to its callers, so the next caller starts a new one.
   */
  reset(): void
}

/**
 * The single-flight refresh: one run at a time, retried with backoff while the failure is transient
 * (`isTransient`), and given up at once when it is final. A caller sits through a retry only while
 * its token no longer works, for at most `retryAttempts` attempts and never for a wait longer than
 * `retryMaxDelayMs` (a `Retry-After` of a day is honoured in the background, not by a caller that
 * hangs for a day); the retries go on in the background after that.
 */
export function createRefreshFlight<T>(config: RefreshFlightConfig): RefreshFlight<T> {
  let flight: Promise<T> | undefined
  let failures = 0
  let hold: { until: number; error: AuthError } | undefined
  let wake: (() => void) | undefined

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const win = globalThis as Partial<EventTarget>
      let timer: TimerHandle
      const done = (): void => {
        config.clock.clearTimeout(timer)
        win.removeEventListener?.('online', done)
        wake = undefined
        resolve()
      }
      timer = config.clock.setTimeout(done, Math.min(ms, MAX_TIMER_DELAY_MS))
      win.addEventListener?.('online', done)
      wake = done
    })

  async function loop(task: RefreshTask<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let error: AuthError
      try {
        return await task.attempt()
      } catch (thrown) {
        error = isAuthError(thrown) ? thrown : new AuthError('network', DEV ? 'refresh failed' : '', { cause: thrown })
      }
      if (!isTransient(error.code)) throw error
      failures++
      task.failed(error)
      const delay = retryDelay(failures, error.retryAfterMs, {
        minDelayMs: config.retryMinDelayMs,
        maxDelayMs: config.retryMaxDelayMs,
      })
      if (DEV) {
        const waits = !(!task.mustWait() || attempt >= config.retryAttempts || delay > config.retryMaxDelayMs)
        // In the background: no caller waits for the retry (their token still works, or they waited enough).
        config.log?.(waits ? 'refresh failed; retrying' : 'refresh failed; retrying in the background', {
          ...errorForLog(error),
          attempt,
          failures,
          delayMs: Math.round(delay),
          why: error.retryAfterMs === undefined ? 'exponential backoff with jitter' : 'the server asked to wait (Retry-After)',
        })
      }
      if (!task.mustWait() || attempt >= config.retryAttempts || delay > config.retryMaxDelayMs) {
        hold = { until: config.clock.now() + delay, error }
        task.retryAt(hold.until)
        throw error
      }
      await sleep(delay)
    }
  }

  return {
    run(task) {
      if (flight) return flight
      const run: Promise<T> = loop(task).then(
        (value) => {
          if (flight === run) flight = undefined
          failures = 0
          hold = undefined
          return value
        },
        (error: unknown) => {
          if (flight === run) flight = undefined
          throw error
        },
      )
      return (flight = run)
    },
    current: () => flight,
    held() {
      if (!hold) return undefined
      const left = hold.until - config.clock.now()
      if (left <= 0) return undefined
      const { code, message, status } = hold.error
      return new AuthError(code, message, { status, retryAfterMs: left })
    },
    wake() {
      hold = undefined
      wake?.()
    },
    reset() {
      failures = 0
      flight = undefined
      hold = undefined
    },
  }
}
