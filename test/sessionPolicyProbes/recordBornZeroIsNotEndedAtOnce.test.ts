import { describe, expect, it } from 'vitest'
import { memoryStorage } from '../../src/index.js'
import { ADA, MINUTE, SECOND, useProbe } from './support.js'

// Older versions wrote `born: 0` in the record (c85acdf: such a session "takes its last change for
// its birth"). The restore keeps born 0 in the state, and the policy's max age is born + max: 1970.
// An app that turns maxSessionMs on logs out, at once and at the server, every user whose stored
// record an older version wrote, however recent their login.
const { client, elapse, events, storageKey, live, familyOf } = useProbe('probe-born-zero')

describe('a record from an older version that says born 0', () => {
  it('restored with maxSessionMs, is not ended at once: its birth is its last change', async () => {
    const storage = memoryStorage()
    const first = client({ storage })
    await first.login(ADA)
    await elapse(MINUTE, 10 * SECOND)
    first.destroy()
    const record = JSON.parse(storage.getItem(storageKey()) as string) as Record<string, unknown>
    storage.setItem(storageKey(), JSON.stringify({ ...record, born: 0 }))
    const family = familyOf(record.refreshToken as string)!

    const second = client({ storage, maxSessionMs: 30 * MINUTE })
    const expired = events(second, 'session-expired')
    await second.ready
    await elapse(SECOND)
    expect(expired.map((event) => event.reason)).toEqual([])
    expect(second.getSession()).not.toBeNull()
    expect(live(family)).toHaveLength(1)
  })
})
