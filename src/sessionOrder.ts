/**
 * How changes to the session are ordered across tabs.
 *
 * Each tab keeps a Lamport clock: it moves past every generation it sees (in storage, in any
 * message, in a starting tab's question) and stamps each change it makes with the next value. A
 * change another tab made after hearing of ours therefore always carries a larger generation; the
 * tab id breaks ties between changes made without hearing of each other.
 *
 * The order decides only between different sessions. Within one session the rotation count decides,
 * and a logout or expiry names the session it ends, so it can never end a later one.
 */

/** Where a change stands in the order: its generation and the tab that made it. */
export interface Stamp {
  readonly gen: number
  readonly tab: string
}

/** What a session change carries for the order. */
export interface Identity extends Stamp {
  readonly sid: string
  readonly rotation: number
}

/**
 * How far one message or record may move a tab's clock. Real clocks move by one per change, so
 * this is never reached honestly; it keeps one bad value from pushing every tab to the end of the
 * safe integers, where `gen + 1` stops increasing.
 */
const MAX_LEAP = 2 ** 32
const MAX_GEN = Number.MAX_SAFE_INTEGER - MAX_LEAP

/** Whether `gen` is a generation a tab whose clock reads `clock` may accept; anything else is malformed. */
export const isGen = (gen: unknown, clock: number): gen is number =>
  Number.isSafeInteger(gen) && (gen as number) >= 0 && (gen as number) <= Math.min(clock + MAX_LEAP, MAX_GEN)

/** Whether `a` comes after `b`. */
export const isLater = (a: Stamp, b: Stamp): boolean => (a.gen !== b.gen ? a.gen > b.gen : a.tab > b.tab)

/**
 * Whether `incoming`, a session another tab (or storage) holds, replaces `held`, this tab's session
 * (undefined when it holds none). `ended` lists the sessions this tab knows were logged out or expired.
 */
export function replaces(incoming: Identity, held: Identity | undefined, ended: { has(sid: string): boolean }): boolean {
  // A session that ended never comes back, whatever a late message says.
  if (ended.has(incoming.sid)) return false
  // No session is not a change anyone made to this one: any live session beats it.
  if (!held) return true
  if (incoming.sid === held.sid) {
    return incoming.rotation !== held.rotation ? incoming.rotation > held.rotation : isLater(incoming, held)
  }
  return isLater(incoming, held)
}
