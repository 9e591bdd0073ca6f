import { describe, expect, it, vi } from 'vitest'
import { ADA, MINUTE, SECOND, useProbe } from './support.js'

// check() emits session-warning (or session-extended), then arms its timer. A listener that logs
// out, or destroys the client, stops the policy inside that call; check() then arms the timer (and
// the scheduler's window listeners) again: a timer and listeners while logged out (the policy's
// own rule), and after destroy() ("stops every timer, listener and channel").
const { client, elapse, settle, act } = useProbe('probe-listener-timer')

const windowListeners = () => {
  // Adding a listener twice is a no-op, and so is removing one never added: count distinct ones.
  const held = new Set<unknown>()
  const add = window.addEventListener.bind(window)
  const remove = window.removeEventListener.bind(window)
  vi.spyOn(window, 'addEventListener').mockImplementation((type, listener, options) => {
    if (type === 'focus') held.add(listener)
    add(type, listener, options)
  })
  vi.spyOn(window, 'removeEventListener').mockImplementation((type, listener, options) => {
    if (type === 'focus') held.delete(listener)
    remove(type, listener, options)
  })
  /** How many 'focus' listeners are left. */
  return () => held.size
}

describe('a listener that ends the session leaves no timer and no listener', () => {
  it('control: logout() during the warning, from outside a listener', async () => {
    const auth = client({ idleTimeoutMs: 10 * MINUTE })
    await auth.login(ADA)
    await elapse(9 * MINUTE + 2 * SECOND, 10 * SECOND)
    await auth.logout()
    await settle()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('session-warning listener that calls logout()', async () => {
    const auth = client({ idleTimeoutMs: 10 * MINUTE })
    auth.on('session-warning', () => void auth.logout())
    const focus = windowListeners()
    await auth.login(ADA)
    await elapse(9 * MINUTE + 2 * SECOND, 10 * SECOND)
    await settle()
    expect(auth.getSession()).toBeNull()
    expect(vi.getTimerCount()).toBe(0)
    expect(focus()).toBe(0)
  })

  it('session-extended listener that calls logout()', async () => {
    const auth = client({ idleTimeoutMs: 10 * MINUTE })
    auth.on('session-extended', () => void auth.logout())
    await auth.login(ADA)
    await elapse(9 * MINUTE + 2 * SECOND, 10 * SECOND)
    act('keydown')
    await settle()
    expect(auth.getSession()).toBeNull()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('session-warning listener that calls destroy()', async () => {
    const auth = client({ idleTimeoutMs: 10 * MINUTE })
    auth.on('session-warning', () => auth.destroy())
    await auth.login(ADA)
    await elapse(9 * MINUTE + 2 * SECOND, 10 * SECOND)
    await settle()
    expect(vi.getTimerCount()).toBe(0)
  })
})
