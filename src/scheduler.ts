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
  let timer: TimerHandle | undefined
  let listening = false

  const target = (): EventTarget | undefined => {
    const candidate = globalThis as unknown as Partial<EventTarget>
    return typeof candidate.addEventListener === 'function' ? (globalThis as unknown as EventTarget) : undefined
  }
  const doc = (): EventTarget | undefined => (globalThis as { document?: EventTarget }).document

  const stopTimer = (): void => {
    if (timer !== undefined) clock.clearTimeout(timer)
    timer = undefined
  }

  const check = (): void => {
    if (deadline === undefined) return
    stopTimer()
    const wait = deadline - clock.now()
    if (wait > 0) {
      timer = clock.setTimeout(check, Math.min(wait, MAX_TIMER_DELAY_MS))
      return
    }
    cancel()
    onDue()
  }

  const onWake = (event: Event): void => {
    if (event.type === 'online' && kind === 'retry') deadline = clock.now()
    if (event.type === 'visibilitychange' && (doc() as Document | undefined)?.visibilityState === 'hidden') return
    check()
  }

  const listen = (on: boolean): void => {
    if (listening === on) return
    listening = on
    const method = on ? 'addEventListener' : 'removeEventListener'
    const win = target()
    for (const type of WINDOW_EVENTS) win?.[method](type, onWake)
    doc()?.[method]('visibilitychange', onWake)
  }

  function cancel(): void {
    deadline = undefined
    stopTimer()
    listen(false)
  }

  return {
    schedule(at, nextKind) {
      deadline = at
      kind = nextKind
      listen(true)
      check()
    },
    cancel,
  }
}
