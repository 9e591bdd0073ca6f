import { fc, test } from '@fast-check/vitest'
import { describe, expect, it } from 'vitest'
import { isGen, isLater, replaces, type Identity } from '../src/sessionOrder.js'

const id = (sid: string, rotation: number, gen: number, tab = 't1'): Identity => ({ sid, rotation, gen, tab })
const none = new Set<string>()

describe('isGen', () => {
  it('accepts a safe, non-negative generation up to 2^32 ahead of the clock', () => {
    expect(isGen(0, 0)).toBe(true)
    expect(isGen(2 ** 32, 0)).toBe(true)
    expect(isGen(2 ** 32 + 1, 0)).toBe(false)
    expect(isGen(2 ** 40, 2 ** 40 - 5)).toBe(true)
  })

  it.each([-1, 1.5, NaN, Infinity, Number.MAX_SAFE_INTEGER, '3', null])('refuses %s', (gen) => {
    expect(isGen(gen, Number.MAX_SAFE_INTEGER)).toBe(false)
  })

  test.prop([fc.nat(), fc.integer({ min: 0, max: 100 })])('no accepted generation leaves room for fewer than 2^32 more changes', (clock, extra) => {
    const gen = clock + extra
    if (isGen(gen, clock)) expect(Number.isSafeInteger(gen + 2 ** 32)).toBe(true)
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
    expect(replaces(id('s', 0, 1), undefined, none)).toBe(true)
  })

  it('a session that ended never comes back, even with a later generation or rotation', () => {
    expect(replaces(id('s', 9, 1_000), undefined, new Set(['s']))).toBe(false)
    expect(replaces(id('s', 9, 1_000), id('other', 0, 1), new Set(['s']))).toBe(false)
  })

  it('within one session the later rotation wins, whatever the generations', () => {
    expect(replaces(id('s', 2, 1), id('s', 1, 50), none)).toBe(true)
    expect(replaces(id('s', 1, 50), id('s', 2, 1), none)).toBe(false)
  })

  it('between two sessions the later stamp wins', () => {
    expect(replaces(id('b', 0, 6), id('a', 4, 5), none)).toBe(true)
    expect(replaces(id('b', 0, 5, 't0'), id('a', 4, 5, 't1'), none)).toBe(false)
  })

  it('the same state heard again replaces nothing', () => {
    const state = id('s', 3, 7)
    expect(replaces({ ...state }, state, none)).toBe(false)
  })
})
