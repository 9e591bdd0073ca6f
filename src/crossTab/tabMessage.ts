import { fromRecord, type SessionRecord } from '../session.js'

/**
 * What tabs tell each other. Every change carries the generation it produced, so a tab can tell
 * a newer state from a late, older one; `from` is the sending tab.
 */
export type TabMessage =
  /** "Send me your session": a tab that just started, or a leader that just took over. */
  | { type: 'hello'; from: string }
  /** The session this tab now holds, and why. */
  | { type: 'session'; from: string; gen: number; cause: 'login' | 'refresh' | 'sync'; record: SessionRecord }
  | { type: 'logout'; from: string; gen: number }
  | { type: 'expired'; from: string; gen: number }
  /** A follower needs the session of generation `gen` renewed; only the leader acts on it. */
  | { type: 'refresh-request'; from: string; gen: number }
  /** The leader got a refresh request and is working on it: the follower can keep waiting. */
  | { type: 'ack'; from: string; gen: number }
  /** The leader's refresh failed for a transient reason; followers treat it as their own failure. */
  | { type: 'failed'; from: string; gen: number; code: TransientCode }

type TransientCode = 'network' | 'timeout' | 'server' | 'invalid_response'

/** The failures a leader passes on to its followers: the ones worth retrying. */
export const isTransient = (code: unknown): code is TransientCode =>
  ['network', 'timeout', 'server', 'invalid_response'].includes(code as string)

/**
 * Reads a message from the channel as untrusted data, like storage: anything malformed is
 * `undefined` and ignored.
 */
export function parseTabMessage(data: unknown): TabMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const message = data as Record<string, unknown>
  const { type, from, gen } = message
  if (typeof from !== 'string' || from === '') return undefined
  if (type === 'hello') return { type, from }
  const valid =
    Number.isSafeInteger(gen) &&
    (gen as number) >= 0 &&
    (type === 'session'
      ? ['login', 'refresh', 'sync'].includes(message.cause as string) && fromRecord(message.record) !== undefined
      : type === 'failed'
        ? isTransient(message.code)
        : ['logout', 'expired', 'refresh-request', 'ack'].includes(type as string))
  return valid ? (message as TabMessage) : undefined
}
