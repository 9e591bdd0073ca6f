import { isTransient, type TransientCode } from '../errors.js'
import type { ExpiryReason } from '../events.js'
import { fromRecord, isCount, nonEmptyString, type SessionRecord } from '../session.js'
import { isGen } from '../sessionOrder.js'

/**
 * What tabs tell each other. `from` is the sending tab and `gen` its clock when it sent the message,
 * which every receiver moves past (sessionOrder.ts); a session's own place in the order travels in
 * its record.
 */
export type TabMessage =
  /**
   * "Send me your state", and whether session `sid` (which the asker holds) ended: a tab that just
   * started, or a leader that just took over. Every tab answers.
   */
  | { type: 'hello'; from: string; gen: number; sid?: string }
  /** The session this tab now holds, and why. */
  | { type: 'session'; from: string; gen: number; cause: 'login' | 'refresh' | 'sync'; record: SessionRecord }
  /** The session `sid` was logged out; without `sid`, an answer from a tab that never ended one. */
  | { type: 'logout'; from: string; gen: number; sid?: string }
  /** The session `sid` expired: its refresh was refused, or a session policy ended it. */
  | { type: 'expired'; from: string; gen: number; sid: string; reason?: ExpiryReason }
  /** A user was active at `at` (wall clock) in a tab holding session `sid` (idleTimeoutMs). */
  | { type: 'activity'; from: string; gen: number; sid: string; at: number }
  /** A follower needs the session in `record` renewed; only the leader acts on it. */
  | { type: 'refresh-request'; from: string; gen: number; record: SessionRecord }
  /** The leader got the request to renew `sid` at `rotation` and is working on it. */
  | { type: 'ack'; from: string; gen: number; sid: string; rotation: number }
  /** The leader's renewal of `sid` at `rotation` failed for a transient reason; retry no sooner than `retryAfterMs`. */
  | { type: 'failed'; from: string; gen: number; sid: string; rotation: number; code: TransientCode; retryAfterMs?: number }

const isRecord = (value: unknown, clock: number, now: number): boolean => {
  const state = fromRecord(value)
  return state !== undefined && isGen(state.gen, clock, now) && (value as SessionRecord).sid !== undefined
}

/**
 * Reads a message from the channel as untrusted data, like storage: anything malformed is
 * `undefined` and ignored. A generation too far ahead of this tab's `clock` and the wall clock `now`
 * is malformed too (sessionOrder.ts).
 */
export function parseTabMessage(data: unknown, clock: number, now: number): TabMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const message = data as Record<string, unknown>
  const { type, from, gen, sid } = message
  if (!nonEmptyString(from) || !isGen(gen, clock, now)) return undefined
  const valid =
    ((type === 'hello' || type === 'logout') && (sid === undefined || nonEmptyString(sid))) ||
    (((type === 'session' && ['login', 'refresh', 'sync'].includes(message.cause as string)) || type === 'refresh-request') &&
      isRecord(message.record, clock, now)) ||
    (type === 'expired' && nonEmptyString(sid) && [undefined, 'refresh-refused', 'idle', 'max-age'].includes(message.reason as string)) ||
    (type === 'activity' && nonEmptyString(sid) && isCount(message.at)) ||
    ((type === 'ack' || (type === 'failed' && isTransient(message.code) && (message.retryAfterMs === undefined || isCount(message.retryAfterMs)))) &&
      nonEmptyString(sid) &&
      isCount(message.rotation))
  return valid ? (message as TabMessage) : undefined
}
