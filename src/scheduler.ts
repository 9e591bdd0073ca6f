import type { Clock, TimerHandle } from './clock.js'

/**
 * setTimeout stores its delay in a signed 32-bit int and fires at once past 2^31-1 ms (~24.8 days),
 * so a 30-day token would refresh immediately. Longer waits are split into capped steps.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 2

/** What wakes the scheduler up besides its own timer. */
const WINDOW_EVENTS = ['pageshow', 'online', 'focus'] as const

export interface Scheduler {
  /** Runs `onDue` once the wall clock reaches `at`. `retry` marks a backoff wait, cut short when the browser comes back online. */
  schedule(at: number, kind: 'refresh' | 'retry'): void
  cancel(): void
}

/**
 * Runs the refresh when it is due. Timers stop while a laptop sleeps and are throttled in
 * background tabs, so the deadline lives on the wall clock and is checked again whenever the page
 * comes back (`visibilitychange`, `pageshow`, `focus`) or the network does (`online`). Window
 * listeners exist only while something is scheduled.
 */
export function createScheduler(clock: Clock, onDue: () => void): Scheduler {
  let deadline: number | undefined
  let kind: 'refresh' | 'retry' = 'refresh'
  let timer: TimerHandle

  /** (Re)arms the one timer to check again in `ms`, capped so that long waits go in steps. */
  const arm = (ms: number): void => {
    clock.clearTimeout(timer)
    timer = clock.setTimeout(check, Math.min(Math.max(ms, 0), MAX_TIMER_DELAY_MS))
  }

  const check = (): void => {
    if (deadline === undefined) return
    const wait = deadline - clock.now()
    if (wait > 0) return arm(wait)
    cancel()
    onDue()
  }

  // Any wake-up only re-reads the clock: a refresh not yet due just gets its timer re-armed.
  const onWake = (event: Event): void => {
    if (event.type === 'online' && kind === 'retry') deadline = clock.now()
    check()
  }

  /** Adding a listener twice, or removing one never added, is a no-op: no bookkeeping needed. */
  const listen = (method: 'addEventListener' | 'removeEventListener'): void => {
    const { document } = globalThis as { document?: EventTarget }
    const win = globalThis as Partial<EventTarget>
    for (const type of WINDOW_EVENTS) win[method]?.(type, onWake)
    document?.[method]('visibilitychange', onWake)
  }

  function cancel(): void {
    deadline = undefined
    clock.clearTimeout(timer)
    listen('removeEventListener')
  }

  return {
    schedule(at, nextKind) {
      deadline = at
      kind = nextKind
      listen('addEventListener')
      // Always through a timer, even when due now: the caller (a refresh that just ended) may still
      // be in flight, and a call back from here would join it instead of starting the next one.
      arm(at - clock.now())
    },
    cancel,
  }
}
