import { parseTabMessage, type TabMessage } from './tabMessage.js'

export interface TabChannel {
  post(message: TabMessage): void
  close(): void
}

/**
 * A channel to the other tabs of this origin: BroadcastChannel, or where it is missing, the
 * `storage` event of a localStorage key written and removed at once. That fallback never carries
 * a token: session messages lose their record, and receivers read the session from their storage.
 */
export function createTabChannel(name: string, onMessage: (message: TabMessage) => void): TabChannel | undefined {
  const deliver = (data: unknown): void => {
    const message = parseTabMessage(data)
    if (message) onMessage(message)
  }
  if (typeof BroadcastChannel === 'function') {
    const channel = new BroadcastChannel(name)
    channel.onmessage = (event) => deliver(event.data)
    return { post: (message) => channel.postMessage(message), close: () => channel.close() }
  }
  const storage = (globalThis as { localStorage?: Storage }).localStorage
  if (!storage || typeof addEventListener !== 'function') return undefined
  const listener = (event: StorageEvent): void => {
    if (event.key !== name || event.newValue === null) return
    try {
      deliver(JSON.parse(event.newValue))
    } catch {
      // not one of ours
    }
  }
  addEventListener('storage', listener)
  return {
    post(message) {
      const { record: _record, ...withoutTokens } = message as TabMessage & { record?: unknown }
      try {
        // A nonce makes every write a change, so the event fires even for a repeated message.
        storage.setItem(name, JSON.stringify({ ...withoutTokens, nonce: Math.random() }))
        storage.removeItem(name)
      } catch {
        // Storage full or blocked: other tabs miss this message, as they would a lost broadcast.
      }
    },
    close: () => removeEventListener('storage', listener),
  }
}
