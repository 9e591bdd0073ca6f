import { describe, expect, it, vi } from 'vitest'
import { AuthError, memoryStorage, type TokenStorage } from '../src/index.js'
import { createSessionState, type SessionState } from '../src/session.js'
import { createSessionStore } from '../src/storage/sessionStore.js'

const KEY = 'tokenkeeper.session'
const state: SessionState<unknown> = createSessionState('login', { accessToken: 'opaque', refreshToken: 'rt', expiresInSec: 60 }, 1_000)

describe('createSessionStore', () => {
  it('saves a session and loads it back', async () => {
    const store = createSessionStore(memoryStorage(), KEY, () => undefined)
    await store.save(state)
    expect(await store.load()).toEqual(state)
  })

  it('works with an async storage (AsyncStorage, localForage)', async () => {
    const items = new Map<string, string>()
    const asyncStorage: TokenStorage = {
      getItem: async (key) => items.get(key) ?? null,
      setItem: async (key, value) => void items.set(key, value),
      removeItem: async (key) => void items.delete(key),
    }
    const store = createSessionStore(asyncStorage, KEY, () => undefined)
    await store.save(state)
    expect(await store.load()).toEqual(state)
    await store.clear()
    expect(items.size).toBe(0)
  })

  it.each([['not json {'], ['{"v":1}'], ['[]'], ['"a string"']])('removes a corrupt record %s and reports no session', async (raw) => {
    const storage = memoryStorage()
    storage.setItem(KEY, raw)
    const errors: AuthError[] = []
    const store = createSessionStore(storage, KEY, (error) => errors.push(error))
    expect(await store.load()).toBeUndefined()
    expect(storage.getItem(KEY)).toBeNull()
    expect(errors).toEqual([])
  })

  it('turns a storage that throws on write into a storage error, and does not throw', async () => {
    const storage = memoryStorage()
    storage.setItem = () => {
      throw new DOMException('quota', 'QuotaExceededError')
    }
    const errors: AuthError[] = []
    const store = createSessionStore(storage, KEY, (error) => errors.push(error))
    await expect(store.save(state)).resolves.toBeUndefined()
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: 'storage', name: 'AuthError' })
    expect(errors[0]!.message).toContain('setItem')
    expect(errors[0]!.message).not.toContain('opaque')
  })

  it('turns a storage that throws on read into a storage error and no session', async () => {
    const storage = memoryStorage()
    storage.getItem = () => {
      throw new DOMException('denied', 'SecurityError')
    }
    const errors: AuthError[] = []
    const store = createSessionStore(storage, KEY, (error) => errors.push(error))
    expect(await store.load()).toBeUndefined()
    expect(errors[0]?.code).toBe('storage')
  })

  it('passes a storage AuthError (cookie too large) through as it is', async () => {
    const storage = memoryStorage()
    const tooLarge = new AuthError('storage', 'cookieStorage: too large')
    storage.setItem = () => {
      throw tooLarge
    }
    const errors: AuthError[] = []
    await createSessionStore(storage, KEY, (error) => errors.push(error)).save(state)
    expect(errors).toEqual([tooLarge])
  })

  it('runs writes in order, so a slow save never lands after a later clear', async () => {
    const items = new Map<string, string>()
    let releaseSave = () => {}
    const slow: TokenStorage = {
      getItem: (key) => items.get(key) ?? null,
      setItem: (key, value) =>
        new Promise<void>((resolve) => {
          releaseSave = () => {
            items.set(key, value)
            resolve()
          }
        }),
      removeItem: (key) => void items.delete(key),
    }
    const store = createSessionStore(slow, KEY, () => undefined)
    const saved = store.save(state)
    const cleared = store.clear()
    await vi.waitFor(() => expect(releaseSave).not.toBe(undefined))
    releaseSave()
    await Promise.all([saved, cleared])
    expect(items.has(KEY)).toBe(false)
  })
})
