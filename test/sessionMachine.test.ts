import { describe, expect, it } from 'vitest'
import { createSessionState, fromRecord, toRecord, type SessionState } from '../src/session.js'
import { createSessionMachine } from '../src/sessionMachine.js'

const NOW = 1_800_000_000_000
const login = (token = 'opaque'): SessionState<unknown> => createSessionState('login', { accessToken: token, refreshToken: `rt-${token}`, expiresInSec: 300 }, NOW)
const types = (events: [string, unknown][]) => events.map(([type]) => type)

describe('createSessionMachine', () => {
  it('a change made here is stamped with the wall clock, or past the largest generation seen when that is larger', () => {
    let now = 5_000
    const machine = createSessionMachine<unknown>('tab-a', () => now)
    expect(machine.apply(login('one'), { kind: 'login' }).to?.gen).toBe(5_000)
    machine.see(9_000)
    expect(machine.apply(login('two'), { kind: 'login' }).to?.gen).toBe(9_001)
    now = 20_000
    expect(machine.apply(undefined, { kind: 'logout', here: true }).publish?.gen).toBe(20_000)
  })

  it('a login made here is stamped past the clock, emits login then change, is saved and told to the other tabs', () => {
    const machine = createSessionMachine<unknown>('tab-a', () => 0)
    machine.see(41)
    const outcome = machine.apply(login(), { kind: 'login' })
    expect(outcome.to).toMatchObject({ gen: 42, tab: 'tab-a' })
    expect(types(outcome.events)).toEqual(['login', 'change'])
    expect(outcome.persist).toBe('save')
    expect(outcome.publish).toMatchObject({ type: 'session', cause: 'login', gen: 42 })
    expect(machine.state()).toBe(outcome.to)
  })

  it('a logout here names the session it ends, clears storage and emits logout (user) then change(null)', () => {
    const machine = createSessionMachine<unknown>('tab-a', () => 0)
    const { to } = machine.apply(login(), { kind: 'login' })
    const outcome = machine.apply(undefined, { kind: 'logout', here: true })
    expect(outcome.publish).toEqual({ type: 'logout', gen: 2, sid: to!.sid })
    expect(outcome.persist).toBe('clear')
    expect(outcome.events).toEqual([
      ['logout', { reason: 'user' }],
      ['change', null],
    ])
  })

  it('a second login revokes the session it replaces', () => {
    const machine = createSessionMachine<unknown>('tab-a', () => 0)
    const first = machine.apply(login('one'), { kind: 'login' }).to
    expect(machine.apply(login('two'), { kind: 'login' }).revoke).toBe(first)
  })

  it('a session adopted from another tab is not told back, and a late message of a session that ended changes nothing', () => {
    const machine = createSessionMachine<unknown>('tab-a', () => 0)
    const other = createSessionMachine<unknown>('tab-b', () => 0)
    const made = other.apply(login(), { kind: 'login' }).to!
    const adopted = machine.adopt({ type: 'session', from: 'tab-b', gen: made.gen, cause: 'login', record: toRecord(made) })
    expect(adopted?.publish).toBeUndefined()
    expect(types(adopted!.events)).toEqual(['login', 'change'])
    const ended = machine.adopt({ type: 'logout', from: 'tab-b', gen: 9, sid: made.sid })
    expect(ended?.events[0]).toEqual(['logout', { reason: 'other-tab' }])
    expect(machine.adopt({ type: 'session', from: 'tab-b', gen: 99, cause: 'refresh', record: toRecord(made) })).toBeUndefined()
    expect(machine.state()).toBeUndefined()
  })

  it("a leader's refresh that crosses another tab's login: every tab ends on the login, and the leader revokes its refreshed tokens (found by test/dpopTabs.test.ts)", () => {
    let now = 400
    const leader = createSessionMachine<unknown>('tab-leader', () => now)
    const other = createSessionMachine<unknown>('tab-other', () => now)
    // Both hold the session logged in at 400.
    const old = leader.apply(login('old'), { kind: 'login' }).to!
    other.adopt({ type: 'session', from: 'tab-leader', gen: old.gen, cause: 'login', record: toRecord(old) })
    // The other tab logs in at 467; before its message arrives, the leader's refresh answer lands at 468.
    now = 467
    const newer = other.apply(login('new'), { kind: 'login' }).to!
    now = 468
    const refreshed = leader.apply({ ...old, session: { ...old.session, accessToken: 'old-2' }, rotation: 1 }, { kind: 'refresh' }).to!
    expect(refreshed.gen).toBeGreaterThan(newer.gen)
    // The messages cross.
    const atOther = other.adopt({ type: 'session', from: 'tab-leader', gen: refreshed.gen, cause: 'refresh', record: toRecord(refreshed) })
    const atLeader = leader.adopt({ type: 'session', from: 'tab-other', gen: newer.gen, cause: 'login', record: toRecord(newer) })
    expect(atOther).toBeUndefined()
    expect(atLeader?.to?.sid).toBe(newer.sid)
    expect(atLeader?.revoke).toBe(refreshed)
    expect(leader.state()?.sid).toBe(other.state()?.sid)
  })

  it('a session restored from a record that says born 0 takes its last change for its birth at its refresh, and still loses to a newer login (found by an outside probe)', () => {
    let now = 400
    const leader = createSessionMachine<unknown>('tab-leader', () => now)
    const other = createSessionMachine<unknown>('tab-other', () => now)
    const old = fromRecord<unknown>({ v: 1, accessToken: 'old', refreshToken: 'rt-old', expiresAt: 400 + 300_000, receivedAt: 400, sid: 'old', rotation: 3, gen: 400, tab: 'x', born: 0 })!
    leader.apply(old, { kind: 'restore', quiet: false })
    other.adopt({ type: 'session', from: 'tab-leader', gen: 400, cause: 'sync', record: toRecord(old) })
    now = 467
    const newer = other.apply(login('new'), { kind: 'login' }).to!
    now = 468
    const refreshed = leader.apply({ ...old, session: { ...old.session, accessToken: 'old-2' }, rotation: 4 }, { kind: 'refresh' }).to!
    leader.adopt({ type: 'session', from: 'tab-other', gen: newer.gen, cause: 'login', record: toRecord(newer) })
    expect(refreshed.born).toBe(400)
    expect(leader.state()?.sid).toBe(newer.sid)
  })

  it('a logout of a session this tab does not hold ends nothing, but is remembered', () => {
    const machine = createSessionMachine<unknown>('tab-a', () => 0)
    const held = machine.apply(login('mine'), { kind: 'login' }).to
    expect(machine.adopt({ type: 'logout', from: 'tab-b', gen: 50, sid: 'someone-else' })).toBeUndefined()
    expect(machine.state()).toBe(held)
    expect(machine.answer('someone-else')).toMatchObject([{ type: 'logout', sid: 'someone-else' }, { type: 'session', record: { sid: held!.sid } }])
  })

  it('answers a starting tab with its session, or with the end of its last one, or a bare logout; and first that the session it asks about ended', () => {
    const machine = createSessionMachine<unknown>('tab-a', () => 0)
    expect(machine.answer()).toEqual([{ type: 'logout', gen: 0 }])
    const { to } = machine.apply(login(), { kind: 'login' })
    expect(machine.answer()).toMatchObject([{ type: 'session', cause: 'sync', record: { sid: to!.sid } }])
    machine.apply(undefined, { kind: 'expire', here: true })
    expect(machine.answer()).toMatchObject([{ type: 'expired', sid: to!.sid }])
  })

  it('a quiet restore (an expired session) emits nothing and writes nothing', () => {
    const machine = createSessionMachine<unknown>('tab-a', () => 0)
    const outcome = machine.apply(login(), { kind: 'restore', quiet: true })
    expect(outcome.events).toEqual([])
    expect(outcome.persist).toBeUndefined()
  })

  it('tells which session an access token belongs to', () => {
    const machine = createSessionMachine<unknown>('tab-a', () => 0)
    const { to } = machine.apply(login('t1'), { kind: 'login' })
    machine.apply(login('t2'), { kind: 'login' })
    expect(machine.sessionOf('t1')).toBe(to!.sid)
    expect(machine.sessionOf('t2')).not.toBe(to!.sid)
    expect(machine.sessionOf('unknown')).toBeUndefined()
  })
})
