import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { systemClock } from '../src/clock.js'
import { createScheduler, MAX_TIMER_DELAY_MS } from '../src/scheduler.js'

const DAY = 86_400_000

describe('createScheduler', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }))
  afterEach(() => vi.useRealTimers())

  it('runs once when the deadline is reached, not before', () => {
    const due = vi.fn()
    createScheduler(systemClock, due).schedule(5_000, 'refresh')
    vi.advanceTimersByTime(4_999)
    expect(due).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(due).toHaveBeenCalledOnce()
    vi.advanceTimersByTime(60_000)
    expect(due).toHaveBeenCalledOnce()
  })

  it('waits 30 days in capped steps instead of overflowing setTimeout', () => {
    const due = vi.fn()
    const spy = vi.spyOn(globalThis, 'setTimeout')
    createScheduler(systemClock, due).schedule(30 * DAY, 'refresh')
    expect(due).not.toHaveBeenCalled()
    for (const call of spy.mock.calls) expect(call[1]).toBeLessThanOrEqual(MAX_TIMER_DELAY_MS)
    vi.advanceTimersByTime(30 * DAY - 1)
    expect(due).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(due).toHaveBeenCalledOnce()
  })

  it('catches up on visibilitychange after the clock jumped with no timer firing (a sleeping laptop)', () => {
    const due = vi.fn()
    createScheduler(systemClock, due).schedule(60_000, 'refresh')
    vi.setSystemTime(2 * 3_600_000)
    expect(due).not.toHaveBeenCalled()
    document.dispatchEvent(new Event('visibilitychange'))
    expect(due).toHaveBeenCalledOnce()
  })

  it.each(['pageshow', 'focus', 'online'])('checks the wall clock again on window %s', (type) => {
    const due = vi.fn()
    createScheduler(systemClock, due).schedule(60_000, 'refresh')
    vi.setSystemTime(61_000)
    window.dispatchEvent(new Event(type))
    expect(due).toHaveBeenCalledOnce()
  })

  it('a wake-up before the deadline changes nothing', () => {
    const due = vi.fn()
    createScheduler(systemClock, due).schedule(60_000, 'refresh')
    window.dispatchEvent(new Event('focus'))
    expect(due).not.toHaveBeenCalled()
    vi.advanceTimersByTime(60_000)
    expect(due).toHaveBeenCalledOnce()
  })

  it('cuts a retry wait short when the browser comes back online, but not a refresh wait', () => {
    const due = vi.fn()
    const scheduler = createScheduler(systemClock, due)
    scheduler.schedule(60_000, 'refresh')
    window.dispatchEvent(new Event('online'))
    expect(due).not.toHaveBeenCalled()
    scheduler.schedule(30_000, 'retry')
    window.dispatchEvent(new Event('online'))
    expect(due).toHaveBeenCalledOnce()
  })

  it('listens to the window only while something is scheduled', () => {
    const added = vi.spyOn(window, 'addEventListener')
    const removed = vi.spyOn(window, 'removeEventListener')
    const docRemoved = vi.spyOn(document, 'removeEventListener')
    const scheduler = createScheduler(systemClock, () => undefined)
    expect(added).not.toHaveBeenCalled()
    scheduler.schedule(1_000, 'refresh')
    expect(added.mock.calls.map((call) => call[0]).sort()).toEqual(['focus', 'online', 'pageshow'])
    scheduler.cancel()
    expect(removed.mock.calls.map((call) => call[0]).sort()).toEqual(['focus', 'online', 'pageshow'])
    expect(docRemoved.mock.calls.map((call) => call[0])).toEqual(['visibilitychange'])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('rescheduling replaces the previous deadline', () => {
    const due = vi.fn()
    const scheduler = createScheduler(systemClock, due)
    scheduler.schedule(10_000, 'refresh')
    scheduler.schedule(20_000, 'refresh')
    vi.advanceTimersByTime(10_000)
    expect(due).not.toHaveBeenCalled()
    vi.advanceTimersByTime(10_000)
    expect(due).toHaveBeenCalledOnce()
    expect(vi.getTimerCount()).toBe(0)
  })
})
