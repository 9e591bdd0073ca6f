import { describe, expect, it } from 'vitest'
import { retryDelay } from '../src/backoff.js'

const options = { minDelayMs: 1_000, maxDelayMs: 60_000 }

describe('retryDelay', () => {
  it('grows exponentially with full jitter under a ceiling', () => {
    expect(retryDelay(1, undefined, options, () => 0.999)).toBeCloseTo(1_998, 0)
    expect(retryDelay(3, undefined, options, () => 0.999)).toBeCloseTo(7_992, 0)
    expect(retryDelay(20, undefined, options, () => 1)).toBe(60_000)
  })

  it('never goes under the floor, even when the jitter draws zero', () => {
    expect(retryDelay(5, undefined, options, () => 0)).toBe(1_000)
  })

  it('spreads retries: two clients failing together rarely wait the same', () => {
    const draws = new Set(Array.from({ length: 50 }, () => Math.round(retryDelay(6, undefined, options))))
    expect(draws.size).toBeGreaterThan(40)
  })

  it("honours Retry-After, even beyond the backoff ceiling", () => {
    expect(retryDelay(1, 90_000, options, () => 0.5)).toBe(90_000)
  })

  it('keeps the floor under a Retry-After of zero', () => {
    expect(retryDelay(1, 0, options, () => 0.5)).toBe(1_000)
  })
})
