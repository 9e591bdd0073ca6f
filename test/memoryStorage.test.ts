import { describe, expect, it } from 'vitest'
import { memoryStorage } from '../src/index.js'

describe('memoryStorage', () => {
  it('stores, reads and removes items synchronously', () => {
    const storage = memoryStorage()
    expect(storage.getItem('k')).toBeNull()
    storage.setItem('k', 'v')
    expect(storage.getItem('k')).toBe('v')
    storage.removeItem('k')
    expect(storage.getItem('k')).toBeNull()
  })

  it('gives every call its own store', () => {
    const a = memoryStorage()
    a.setItem('k', 'v')
    expect(memoryStorage().getItem('k')).toBeNull()
  })
})
