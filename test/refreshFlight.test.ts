import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { systemClock } from '../src/clock.js'
import { AuthError } from '../src/errors.js'
import { createRefreshFlight, type RefreshTask } from '../src/refreshFlight.js'

const config = { clock: systemClock, retryMinDelayMs: 1_000, retryMaxDelayMs: 60_000, retryAttempts: 3 }

beforeEach(() => {
  vi.useFakeTimers({ now: 1_800_000_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

/** A task whose attempts answer, in order, with the given outcomes (an AuthError is thrown). */
function task(outcomes: (string | AuthError)[], mustWait = true) {
  const log = { attempts: 0, failed: [] as string[], retryAt: [] as number[] }
  const run: RefreshTask<string> = {
    attempt: async () => {
      const outcome = outcomes[log.attempts++]
      if (outcome instanceof AuthError) throw outcome
      return outcome ?? 'late'
    },
    failed: (error) => log.failed.push(error.code),
    mustWait: () => mustWait,
    retryAt: (at) => log.retryAt.push(at - Date.now()),
  }
  return { run, log }
}

const transient = (retryAfterMs?: number) => new AuthError('server', 'refresh answered 503', { status: 503, retryAfterMs })

describe('createRefreshFlight', () => {
  it('concurrent runs share one attempt and its result', async () => {
    const flight = createRefreshFlight<string>(config)
    const { run, log } = task(['tokens'])
    await expect(Promise.all([flight.run(run), flight.run(run), flight.run(run)])).resolves.toEqual(['tokens', 'tokens', 'tokens'])
    expect(log.attempts).toBe(1)
    expect(flight.current()).toBeUndefined()
  })

  it('a final failure rejects at once, without a retry', async () => {
    const flight = createRefreshFlight<string>(config)
    const { run, log } = task([new AuthError('session_expired', 'refused')])
    await expect(flight.run(run)).rejects.toMatchObject({ code: 'session_expired' })
    expect(log).toEqual({ attempts: 1, failed: [], retryAt: [] })
  })

  it('a caller whose token no longer works sits through transient failures, with backoff, until an attempt succeeds', async () => {
    const flight = createRefreshFlight<string>(config)
    const { run, log } = task([transient(), transient(), 'tokens'])
    const result = flight.run(run)
    await vi.runAllTimersAsync()
    await expect(result).resolves.toBe('tokens')
    expect(log.attempts).toBe(3)
    expect(log.failed).toEqual(['server', 'server'])
  })

  it('a caller whose token still works does not wait: the retry goes to the background', async () => {
    const flight = createRefreshFlight<string>(config)
    const { run, log } = task([transient(5_000)], false)
    await expect(flight.run(run)).rejects.toMatchObject({ code: 'server' })
    expect(log.retryAt).toEqual([5_000])
  })

  it('a Retry-After longer than retryMaxDelayMs is honoured in the background, never by a caller that hangs: one request, no timer overflow', async () => {
    const flight = createRefreshFlight<string>(config)
    const { run, log } = task([transient(99_999_999_000), 'tokens'])
    const warn = vi.spyOn(process, 'emitWarning')
    await expect(flight.run(run)).rejects.toMatchObject({ code: 'server' })
    await vi.advanceTimersByTimeAsync(10)
    expect(log.attempts).toBe(1)
    expect(log.retryAt).toEqual([99_999_999_000])
    expect(warn).not.toHaveBeenCalled()
  })

  it('after retryAttempts a caller rejects and the retries go on in the background', async () => {
    const flight = createRefreshFlight<string>({ ...config, retryAttempts: 2 })
    const { run, log } = task([transient(), transient()])
    const result = flight.run(run).catch((error: unknown) => error)
    await vi.runAllTimersAsync()
    expect(await result).toMatchObject({ code: 'server' })
    expect(log.attempts).toBe(2)
    expect(log.retryAt).toHaveLength(1)
  })

  it('wake() ends the wait between retries at once', async () => {
    const flight = createRefreshFlight<string>(config)
    const { run, log } = task([transient(30_000), 'tokens'])
    const result = flight.run(run)
    await vi.advanceTimersByTimeAsync(0)
    expect(log.attempts).toBe(1)
    flight.wake()
    await expect(result).resolves.toBe('tokens')
    expect(log.attempts).toBe(2)
  })

  it('reset() leaves the run in progress to its callers: the next caller starts a new run', async () => {
    const flight = createRefreshFlight<string>(config)
    let release!: (value: string) => void
    const slow: RefreshTask<string> = { ...task([]).run, attempt: () => new Promise((resolve) => (release = resolve)) }
    const first = flight.run(slow)
    flight.reset()
    const { run } = task(['second'])
    await expect(flight.run(run)).resolves.toBe('second')
    release('first')
    await expect(first).resolves.toBe('first')
    expect(flight.current()).toBeUndefined()
  })
})
