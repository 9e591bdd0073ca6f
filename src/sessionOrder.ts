/**
 * How changes to the session are ordered across tabs.
 *
 * Each tab keeps a hybrid logical clock: a change is stamped with the wall clock, or with one more
 * than the largest generation the tab has seen if that is larger (in storage, in any message, in a
 * starting tab's question). A change made after hearing of another therefore always comes after
 * it; tabs that have not heard of each other are ordered by their shared wall clock, so the last
 * login or logout the user made wins; the tab id breaks the remaining ties. Two sessions are
 * ordered by their logins: a refresh stamped before its tab heard of a newer login must not bring
 * the older session back, in that tab or any other.
 *
 * A logout or expiry names the session it ends, so it can never end a later one.
 */

/** Where a change stands in the order: its generation and the tab that made it. */
export interface Stamp {
  readonly gen: number
  readonly tab: string
}

/** What a session change carries for the order. */
export interface Identity extends Stamp {
  readonly sid: string
  /** The generation of the session's login. */
  readonly born: number
}

/**
 * How far beyond the wall clock and the largest generation it has seen a tab accepts a generation
 * (2^32 ms, 50 days): honest generations are never that far ahead, and one bad message or record
 * can move every clock by no more than that, so the clocks stay readable by a tab that starts later.
 */
const MAX_LEAP = 2 ** 32
/** Far beyond any wall clock (year 142,000), and far from the end of the safe integers. */
const MAX_GEN = 2 ** 52

/** Whether `gen` is a generation a tab whose clock reads `clock` at `now` may accept; anything else is malformed. */
export const isGen = (gen: unknown, clock: number, now: number): gen is number =>
  Number.isSafeInteger(gen) && (gen as number) >= 0 && (gen as number) <= Math.min(Math.max(clock, now) + MAX_LEAP, MAX_GEN)

/** The generation of a change made now by a tab whose clock reads `clock`. */
export const nextGen = (clock: number, now: number): number => Math.min(Math.max(Math.floor(now), clock + 1), MAX_GEN)

/** Whether `a` comes after `b`. */
export const isLater = (a: Stamp, b: Stamp): boolean => (a.gen !== b.gen ? a.gen > b.gen : a.tab > b.tab)

/**
 * Whether `incoming`, a session another tab (or storage) holds, replaces `held`, this tab's session
 * (undefined when it holds none). `ended` holds the sessions this tab knows were logged out or expired.
 */
export function replaces(incoming: Identity, held: Identity | undefined, ended: { has(sid: string): boolean }): boolean {
  // A session that ended never comes back, whatever a late message says.
  if (ended.has(incoming.sid)) return false
  // No session is not a change anyone made to this one: any live session beats it. Within a
  // session the later change wins (a refresh is made after hearing of the state it renews);
  // between two, the later login, whatever renewed the other since (the session id breaks ties:
  // it is the same in every tab, where the last tab to change a session is not).
  return !held || (incoming.sid === held.sid ? isLater(incoming, held) : isLater({ gen: incoming.born, tab: incoming.sid }, { gen: held.born, tab: held.sid }))
}
