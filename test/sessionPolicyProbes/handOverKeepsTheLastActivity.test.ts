import { http } from 'msw'
import { describe, expect, it } from 'vitest'
import { memoryStorage } from '../../src/index.js'
import { ADA, BASE_URL, MINUTE, SECOND, START, useProbe } from './support.js'

// A client destroyed while its refresh is out stores the late tokens for the next client
// (handOver in sessionRefresh.ts). That record is built from the refresh answer alone: no `active`.
// The next client then takes the record's generation, the moment of the hand-over, for the last
// activity: the idle clock starts again from there, whatever the user did (or did not) before.
const { server, client, elapse, settle, events, storageKey } = useProbe('probe-hand-over')

describe('a refresh handed over by a destroyed client', () => {
  it('keeps the last activity: the next client ends the session idleTimeoutMs after it, not after the hand-over', async () => {
    const storage = memoryStorage()
    const first = client({ storage, idleTimeoutMs: 10 * MINUTE })
    await first.login(ADA) // the last activity: the login, at START
    await elapse(9 * MINUTE, 10 * SECOND)
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    server.use(http.post(`${BASE_URL}/auth/refresh`, async () => void (await held)))
    const refreshing = first.refresh().catch(() => undefined)
    // The refresh is out (settle() would wait for its answer, held here).
    for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve))
    first.destroy() // the app unmounts it (HMR, a route that re-creates it)
    release()
    await refreshing
    await settle()
    const stored = JSON.parse((storage.getItem(storageKey()) as string | null) ?? 'null') as { rotation?: number; active?: number } | null
    expect(stored?.rotation).toBe(3) // refreshed at 4 and 8 min, then the handed-over one
    expect.soft(stored?.active).toBe(START)
    const second = client({ storage, idleTimeoutMs: 10 * MINUTE })
    const expired = events(second, 'session-expired')
    await second.ready
    await elapse(MINUTE + 2 * SECOND, SECOND) // 10 min + 1 s after the last activity, and then some
    expect(expired.map((event) => event.reason)).toEqual(['idle'])
  })
})
