import type { Change, Outgoing } from './crossTab/crossTabSync.js'
import { AuthError } from './errors.js'
import type { AuthEvents, ExpiryReason } from './events.js'
import { fromRecord, toRecord, type SessionState } from './session.js'
import { nextGen, replaces } from './sessionOrder.js'
import { DEV } from './dev.js'

/** How the session changes: made here, read back from storage, taken from another tab, or ended. */
export type Transition =
  | { kind: 'login' | 'refresh' }
  /** Read back from storage; `quiet` while it is expired and not shown until renewed. */
  | { kind: 'restore'; quiet: boolean }
  | { kind: 'adopt'; cause: 'login' | 'refresh' | 'sync' }
  /** `here` when this tab ended it; `error` is why a refresh was refused, `reason` why it expired. */
  | { kind: 'logout' | 'expire'; here: boolean; error?: AuthError; reason?: ExpiryReason }

type Event<Claims> = { [K in keyof AuthEvents<Claims>]: [K, AuthEvents<Claims>[K]] }[keyof AuthEvents<Claims>]

/** What a transition leaves for the client to do; the machine itself touches nothing outside. */
export interface Outcome<Claims> {
  from: SessionState<Claims> | undefined
  to: SessionState<Claims> | undefined
  /** The events of the change, in order. */
  events: Event<Claims>[]
  /** What storage must hold now, or nothing when it holds it already (a restore). */
  persist?: 'save' | 'clear' | undefined
  /** What to tell the other tabs about a change made here. */
  publish?: Outgoing<Change>
  /** A session that another one replaced: revoke it at the server. */
  revoke?: SessionState<Claims>
}

export interface SessionMachine<Claims> {
  /** The session this tab holds. */
  state(): SessionState<Claims> | undefined
  /** This tab's clock in the order of changes across tabs (sessionOrder.ts). */
  clock(): number
  /** Moves the clock past a generation seen elsewhere. */
  see(gen: number): void
  /** Counts changes of state (and `touch()` calls): work that waited can tell the session moved on. */
  version(): number
  touch(): void
  /** The tab is ready: what it heard while starting is in its clock. */
  started(): void
  /** The one way the state changes. */
  apply(to: SessionState<Claims> | undefined, how: Transition): Outcome<Claims>
  /** A change from another tab, applied when the order says it replaces what this tab holds. */
  adopt(change: Change): Outcome<Claims> | undefined
  /**
   * A session this tab learns of (from another tab, or from storage after the tab moved on): taken
   * when it replaces what this tab holds; ended everywhere when it was made before a logout here
   * that did not know it (a logout in a tab that was still starting).
   */
  arrive(state: SessionState<Claims>, cause: 'login' | 'refresh' | 'sync'): Outcome<Claims> | undefined
  /** What this tab tells a tab that asks: that session `sid` (when given) ended, then what it holds. */
  answer(sid?: string): Outgoing<Change>[]
  /** The session an access token of late belongs to. */
  sessionOf(accessToken: string): string | undefined
}

/** Tells the other tabs that this tab holds `state` now, and why. */
export const sessionChange = <Claims>(state: SessionState<Claims>, gen: number, cause: 'login' | 'refresh' | 'sync'): Outgoing<Change> => ({
  type: 'session',
  gen,
  cause,
  record: toRecord(state),
})

/** How many ended sessions, and tokens of late, a tab remembers. */
const KEPT = 16

/** Adds to a map that forgets its oldest entries. */
const remember = <V>(map: Map<string, V>, key: string, value: V): void => {
  map.delete(key)
  map.set(key, value)
  if (map.size > KEPT) map.delete(map.keys().next().value!)
}

/**
 * The session state of one tab and its transitions: login, refresh, restore, adoption of another
 * tab's change, logout and expiry. Each gives the events it means, computed from the state it
 * produced, and what storage, the other tabs and the server must be told.
 */
export function createSessionMachine<Claims>(tabId: string, now: () => number): SessionMachine<Claims> {
  let state: SessionState<Claims> | undefined
  let clock = 0
  let version = 0
  /** Sessions that ended lately, oldest first, with how: late news of them changes nothing. */
  const ended = new Map<string, 'logout' | 'expired'>()
  /** Which session each recent access token belongs to. */
  const sessions = new Map<string, string>()
  /** When this tab last logged out: a session logged in before it that arrives later is ended too. */
  let loggedOutAt: number | undefined
  /** Whether that logout came while the tab was starting, before it had heard of any session. */
  let loggedOutStarting = false
  let starting = true
  const see = (gen: number): void => {
    if (gen > clock) clock = gen
  }

  function apply(to: SessionState<Claims> | undefined, how: Transition): Outcome<Claims> {
    const from = state
    const made = how.kind === 'login' || how.kind === 'refresh' ? how.kind : undefined
    const gen = to && made ? (clock = nextGen(clock, now())) : 0
    // A login is born here; so is a session that arrives new (a cookie resume): born 0 means new.
    // A session held here with born 0 (a record of an older version) was born by its last change:
    // its refresh must not look like a login, or it would beat a newer one.
    const born = made === 'login' ? gen : to?.born || (from?.sid === to?.sid && from?.gen) || gen
    const next = to && made ? { ...to, gen, tab: tabId, born } : to
    if (next) see(next.gen)
    // A login here is the user's newer word: an earlier logout here no longer ends what arrives.
    if (made === 'login') loggedOutAt = undefined
    version++
    state = next
    const outcome: Outcome<Claims> = { from, to: next, events: [], persist: 'save' }
    if (!next) {
      const type = how.kind === 'logout' ? 'logout' : 'expired'
      const here = 'here' in how && how.here
      outcome.persist = 'clear'
      const at = here ? (clock = nextGen(clock, now())) : clock
      if (here && type === 'logout') {
        loggedOutAt = at
        loggedOutStarting = starting
      }
      // A logout with no session here changes nothing else: there is nothing to name, or to tell.
      if (!from) return outcome
      remember(ended, from.sid, type)
      const reason = ('reason' in how && how.reason) || 'refresh-refused'
      if (here) outcome.publish = type === 'logout' ? { type, gen: at, sid: from.sid } : { type, gen: at, sid: from.sid, reason }
      outcome.events.push(
        type === 'logout'
          ? ['logout', { reason: here ? 'user' : 'other-tab' }]
          : ['session-expired', { error: ('error' in how && how.error) || new AuthError('session_expired', DEV ? `session: ended (${reason}) in another tab` : ''), reason }],
      )
    } else {
      remember(sessions, next.session.accessToken, next.sid)
      // Replaced by another session: the tab that made it, or the login that replaces it, revokes it.
      if (from && from.sid !== next.sid && (from.tab === tabId || made === 'login')) outcome.revoke = from
      if (how.kind === 'restore') outcome.persist = undefined
      // Other tabs take a session new to them only as a login: a refresh concerns its holders.
      if (made) outcome.publish = sessionChange(next, next.gen, from?.sid === next.sid ? made : 'login')
      const event =
        made ?? (how.kind !== 'adopt' ? undefined : from?.sid === next.sid ? 'refresh' : how.cause === 'sync' && !from ? undefined : 'login')
      if (event) outcome.events.push([event, next.session])
    }
    if (how.kind !== 'restore' || !how.quiet) outcome.events.push(['change', next?.session ?? null])
    return outcome
  }

  function arrive(next: SessionState<Claims>, cause: 'login' | 'refresh' | 'sync'): Outcome<Claims> | undefined {
    // A refresh concerns the tabs that hold that session; it never switches a tab to another one.
    if (cause === 'refresh' && state?.sid !== next.sid) return undefined
    // Logged in before this tab's last logout, which did not know of it: that logout ends it. So
    // does a logout made while starting end what the tab then learns existed (answers, storage),
    // whatever the wall clock says (it may have been set back since that login); a login told
    // as it happens is newer.
    const before = loggedOutAt !== undefined && (next.born <= loggedOutAt || (loggedOutStarting && starting && cause === 'sync'))
    if (before && !ended.has(next.sid) && state?.sid !== next.sid) {
      remember(ended, next.sid, 'logout')
      const publish = { type: 'logout', gen: (clock = nextGen(clock, now())), sid: next.sid } as const
      return { from: state, to: state, events: [], publish, revoke: next }
    }
    return replaces(next, state, ended) ? apply(next, { kind: 'adopt', cause }) : undefined
  }

  return {
    state: () => state,
    clock: () => clock,
    see,
    version: () => version,
    touch() {
      version++
    },
    started() {
      starting = false
    },
    apply,
    arrive,
    adopt(change) {
      // A session was validated when it arrived (crossTab/tabMessage.ts).
      if (change.type === 'session') return arrive(fromRecord<Claims>(change.record)!, change.cause)
      if (!change.sid || change.type === 'activity') return undefined
      if (state?.sid === change.sid) return apply(undefined, change.type === 'logout' ? { kind: 'logout', here: false } : { kind: 'expire', here: false, reason: change.reason })
      remember(ended, change.sid, change.type)
      return undefined
    },
    answer(sid) {
      const how = sid === undefined ? undefined : ended.get(sid)
      const end: Outgoing<Change>[] = how ? [{ type: how, gen: clock, sid: sid! }] : []
      if (state) return [...end, sessionChange(state, clock, 'sync')]
      // The session that ended here last, as [sid, how]; with none, a bare 'logout'.
      const last = [...ended].pop()
      return end.length ? end : [last ? { type: last[1], gen: clock, sid: last[0] } : { type: 'logout', gen: clock }]
    },
    sessionOf: (accessToken) => sessions.get(accessToken),
  }
}
