import { afterEach, describe, expect, it, vi } from 'vitest'
import { createEmitter } from '../src/emitter.js'

interface Events {
  ping: number
  pong: string
}

describe('createEmitter', () => {
  afterEach(() => vi.restoreAllMocks())

  it('delivers payloads to the listeners of that event only', () => {
    const emitter = createEmitter<Events>()
    const pings: number[] = []
    const pongs: string[] = []
    emitter.on('ping', (n) => pings.push(n))
    emitter.on('pong', (s) => pongs.push(s))
    emitter.emit('ping', 1)
    expect(pings).toEqual([1])
    expect(pongs).toEqual([])
  })

  it('on() returns the function that unsubscribes', () => {
    const emitter = createEmitter<Events>()
    const seen: number[] = []
    const off = emitter.on('ping', (n) => seen.push(n))
    emitter.emit('ping', 1)
    off()
    emitter.emit('ping', 2)
    expect(seen).toEqual([1])
  })

  it('a listener that throws does not stop the others', () => {
    const report = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const emitter = createEmitter<Events>()
    const seen: number[] = []
    emitter.on('ping', () => {
      throw new Error('app bug')
    })
    emitter.on('ping', (n) => seen.push(n))
    expect(() => emitter.emit('ping', 7)).not.toThrow()
    expect(seen).toEqual([7])
    expect(report).toHaveBeenCalledOnce()
  })

  it('a listener whose promise rejects causes no unhandled rejection', async () => {
    const report = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const unhandled = vi.fn()
    process.on('unhandledRejection', unhandled)
    const emitter = createEmitter<Events>()
    emitter.on('ping', async () => {
      throw new Error('async app bug')
    })
    emitter.emit('ping', 1)
    await new Promise((resolve) => setTimeout(resolve, 10))
    process.off('unhandledRejection', unhandled)
    expect(unhandled).not.toHaveBeenCalled()
    expect(report).toHaveBeenCalledOnce()
  })

  it('a listener that unsubscribes during an emit does not make others miss it', () => {
    const emitter = createEmitter<Events>()
    const seen: string[] = []
    const off = emitter.on('ping', () => {
      seen.push('first')
      off()
    })
    emitter.on('ping', () => seen.push('second'))
    emitter.emit('ping', 1)
    emitter.emit('ping', 2)
    expect(seen).toEqual(['first', 'second', 'second'])
  })

  it('the same function subscribed twice is unsubscribed one at a time', () => {
    const emitter = createEmitter<Events>()
    const seen: number[] = []
    const listener = (n: number) => seen.push(n)
    const off = emitter.on('ping', listener)
    emitter.on('ping', listener)
    off()
    emitter.emit('ping', 3)
    expect(seen).toEqual([3])
  })

  it('clear() removes every listener', () => {
    const emitter = createEmitter<Events>()
    const seen: number[] = []
    emitter.on('ping', (n) => seen.push(n))
    emitter.clear()
    emitter.emit('ping', 1)
    expect(seen).toEqual([])
  })
})
