/**
 * An opaque timer handle, whatever `setTimeout` returns where the client runs.
 *
 * @example
 * ```ts
 * const handle: TimerHandle = clock.setTimeout(() => {}, 1_000)
 * clock.clearTimeout(handle)
 * ```
 */
export type TimerHandle = unknown

/**
 * Time as the client sees it. Every timer and every reading of the clock goes through this seam,
 * so tests can substitute fake timers and no timer reference is captured at import time.
 *
 * @example
 * ```ts
 * // A test clock that starts at a fixed instant (vitest's fake timers work without this too).
 * const clock: Clock = { now: () => fakeNow, setTimeout: (run, ms) => queue(run, ms), clearTimeout: unqueue }
 * ```
 */
export interface Clock {
  /** Milliseconds since the epoch, as `Date.now()`. */
  now(): number
  /** Runs `run` after `ms` milliseconds, as `setTimeout`. */
  setTimeout(run: () => void, ms: number): TimerHandle
  /** Cancels a timer from `setTimeout`. */
  clearTimeout(handle: TimerHandle): void
}

/** The platform's clock, looked up on every call so fake timers installed later still apply. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}
