import { fc, test } from '@fast-check/vitest'
import { describe, expect, it } from 'vitest'
import { isGen, isLater, nextGen, replaces, type Identity } from '../src/sessionOrder.js'

const id = (sid: string, gen: number, tab = 't1', born = gen): Identity => ({ sid, gen, tab, born })
const NOW = 1_800_000_000_000
const none = new Set<string>()

describe('isGen', () => {
  it('accepts a safe, non-negative generation up to 2^32 ms ahead of the wall clock or of the largest one seen', () => {
    expect(isGen(0, 0, NOW)).toBe(true)
    expect(isGen(NOW + 2 ** 32, 0, NOW)).toBe(true)
    expect(isGen(NOW + 2 ** 32 + 1, 0, NOW)).toBe(false)
    expect(isGen(NOW + 2 ** 33, NOW + 2 ** 32, NOW)).toBe(true)
  })

  it.each([-1, 1.5, NaN, Infinity, Number.MAX_SAFE_INTEGER, 2 ** 52 + 1, '3', null])('refuses %s', (gen) => {
    expect(isGen(gen, 2 ** 52, NOW)).toBe(false)
  })

  it('a tab that starts after one message pushed the clocks 2^32 ahead still reads the generations stamped after it', () => {
    const pushed = NOW + 2 ** 32
    const stampedAfter = nextGen(pushed, NOW + 1_000)
    expect(isGen(stampedAfter, 0, NOW + 1_000)).toBe(true)
  })

  test.prop([fc.nat({ max: 2 ** 52 }), fc.nat({ max: 2 ** 45 })])('the next generation is past the clock (until the cap) and always safe', (clock, now) => {
    const gen = nextGen(clock, now)
    expect(Number.isSafeInteger(gen)).toBe(true)
    expect(gen).toBeGreaterThanOrEqual(Math.min(clock + 1, 2 ** 52))
    expect(gen).toBeGreaterThanOrEqual(Math.min(now, 2 ** 52))
  })
})

describe('isLater', () => {
  it('orders by generation, then by tab id', () => {
    expect(isLater({ gen: 2, tab: 'a' }, { gen: 1, tab: 'z' })).toBe(true)
    expect(isLater({ gen: 1, tab: 'b' }, { gen: 1, tab: 'a' })).toBe(true)
    expect(isLater({ gen: 1, tab: 'a' }, { gen: 1, tab: 'a' })).toBe(false)
  })

  test.prop([fc.nat(), fc.string(), fc.nat(), fc.string()])('is a strict order: never both ways', (g1, t1, g2, t2) => {
    const a = { gen: g1, tab: t1 }
    const b = { gen: g2, tab: t2 }
    expect(isLater(a, b) && isLater(b, a)).toBe(false)
  })
})

describe('replaces', () => {
  it('any session that has not ended replaces no session, whatever its generation', () => {
    expect(replaces(id('s', 1), undefined, none)).toBe(true)
  })

  it('a session that ended never comes back, even with a later generation', () => {
    expect(replaces(id('s', 1_000), undefined, new Set(['s']))).toBe(false)
    expect(replaces(id('s', 1_000), id('other', 1), new Set(['s']))).toBe(false)
  })

  it('within one session the later stamp wins (a later refresh)', () => {
    expect(replaces(id('s', 6), id('s', 5), none)).toBe(true)
    expect(replaces(id('s', 5), id('s', 6), none)).toBe(false)
    expect(replaces(id('s', 5, 't2'), id('s', 5, 't1'), none)).toBe(true)
  })

  it('between two sessions the later login wins, the session id breaking ties', () => {
    expect(replaces(id('b', 6), id('a', 5), none)).toBe(true)
    expect(replaces(id('a', 5), id('b', 6), none)).toBe(false)
    expect(replaces(id('b', 5, 't0'), id('a', 5, 't1'), none)).toBe(true)
    expect(replaces(id('a', 5, 't1'), id('b', 5, 't0'), none)).toBe(false)
  })

  it('a refresh of an older session stamped after a newer login does not bring the older session back (found by test/dpopTabs.test.ts)', () => {
    // The leader refreshed session `old` (logged in at 404) at 468, before it heard of `new`, logged in at 467 in another tab.
    const refreshedOld = id('old', 468, 'leader', 404)
    const login = id('new', 467, 'other', 467)
    expect(replaces(login, refreshedOld, none)).toBe(true)
    expect(replaces(refreshedOld, login, none)).toBe(false)
  })

  test.prop([fc.nat(), fc.nat(), fc.nat(), fc.nat()])('between two sessions the order is the same whichever a tab holds (no two tabs keep different ones)', (gen1, born1, gen2, born2) => {
    const a = id('a', Math.max(gen1, born1), 't1', born1)
    const b = id('b', Math.max(gen2, born2), 't2', born2)
    expect(replaces(a, b, none)).toBe(!replaces(b, a, none))
  })

  it('the same state heard again replaces nothing', () => {
    const state = id('s', 7)
    expect(replaces({ ...state }, state, none)).toBe(false)
  })
})
