import type { Clock, TimerHandle } from '../clock.js'
import { AuthError, isTransient } from '../errors.js'
import type { Logger } from '../log.js'
import type { SessionRecord } from '../session.js'
import { createLeadership } from './leadership.js'
import { parseTabMessage, type TabMessage } from './tabMessage.js'
import { DEV } from '../dev.js'

export type Change = Extract<TabMessage, { type: 'session' | 'logout' | 'expired' | 'activity' }>
/** A message as this tab writes it: the channel adds `from`. */
export type Outgoing<M = TabMessage> = M extends TabMessage ? Omit<M, 'from'> : never

/** What the sync needs from the client it serves. */
export interface SyncHost {
  readonly tabId: string
  /** This tab's clock (sessionOrder.ts), which every message moves past the sender's. */
  clock(): number
  see(gen: number): void
  /** Counts this tab's changes of state, so a wait can tell that one happened. */
  version(): number
  /** The session this tab holds, as a record, or undefined. */
  held(): SessionRecord | undefined
  /** What this tab tells a tab that asks: that session `sid` (when given) ended, then what this tab holds. */
  answer(sid?: string): Outgoing<Change>[]
  /** A change from another tab; the host decides whether it applies (sessionOrder.ts). */
  adopt(change: Change): void
  /** Refreshes here, sharing the flight in progress. Used by the leader to serve followers. */
  refresh(): Promise<unknown>
}

export interface CrossTabConfig {
  /**
   * Names the channel and the locks: one session's, shared by every tab that holds it. Two clients
   * for different servers (or storage keys) on one origin must never hear each other.
   */
  name: string
  clock: Clock
  locks: LockManager
  /** How long a follower waits for a leader that does not answer before taking over. */
  lockTimeoutMs: number
  /** How long a leader may take to refresh once it answered. */
  requestTimeoutMs: number
  /** How long to wait for other tabs to answer "who has a session?". */
  tabSyncTimeoutMs: number
  /** The debug log (development build). */
  log?: Logger | undefined
}

/** What the log tells of a tab message: its kind, sender, session and order, never the record's tokens. */
function messageForLog(message: Outgoing | TabMessage): Record<string, unknown> {
  const details: Record<string, unknown> = {}
  for (const name of ['type', 'from', 'gen', 'sid', 'cause', 'rotation', 'code', 'retryAfterMs', 'reason', 'at'] as const) {
    if (name in message) details[name] = (message as Record<string, unknown>)[name]
  }
  const record = (message as { record?: SessionRecord }).record
  if (record) Object.assign(details, { sid: record.sid, rotation: record.rotation })
  return details
}

export interface CrossTabSync {
  /** Tells the other tabs about a change made here. */
  publish(change: Outgoing<Change>): void
  /**
   * Called before a refresh of `record`, this tab's session, goes to the network. Resolves true
   * when this tab should send it (it leads, or took over from a silent leader), false once `stale()`
   * says this tab's state changed meanwhile. Rejects with the leader's transient failure.
   */
  clearToRefresh(record: SessionRecord, stale: () => boolean): Promise<boolean>
  /**
   * Asks the other tabs for their state (and whether session `sid`, which this tab holds, ended)
   * and waits until one is adopted or the wait ends.
   */
  askSiblings(sid?: string): Promise<void>
  /** Runs `task`, which must not reject, while no other tab runs its own (a Web Lock). */
  exclusive(task: () => Promise<void>): Promise<unknown>
  /**
   * The host is being destroyed but keeps the channel until its refresh in flight is told: it
   * answers no starting tab any more (it is closing), still serves a request for that refresh, and
   * every wait is checked again now.
   */
  retire(): void
  close(): void
}

/**
 * Keeps one session across the tabs of an origin. One tab leads (it holds a Web Lock) and alone
 * sends refresh tokens to the server; the others ask it and adopt what it broadcasts. That is what
 * makes rotation safe: localStorage reaches other tabs' processes late, so a tab that re-read it
 * after taking a lock could still send a token the leader already used.
 *
 * It needs BroadcastChannel and Web Locks (every browser since 2022); the client runs without
 * cross-tab sync where either is missing.
 */
export function createCrossTabSync(host: SyncHost, config: CrossTabConfig): CrossTabSync {
  const waiters = new Set<(message?: TabMessage) => void>()
  const notify = (message?: TabMessage): void => {
    for (const waiter of [...waiters]) waiter(message)
  }
  let tookOverAt = 0
  let retired = false

  const log = DEV ? config.log : undefined
  const onMessage = (message: TabMessage): void => {
    if (DEV) log?.('tab message received', messageForLog(message))
    host.see(message.gen)
    switch (message.type) {
      case 'hello':
        // Every tab answers, logged in or out: the asker moves its clock past each answer.
        if (!retired) host.answer(message.sid).forEach(post)
        break
      case 'refresh-request':
        if (leadership.isLeader()) serve(message.record)
        break
      case 'ack':
      case 'failed':
        break
      default:
        host.adopt(message)
    }
    notify(message)
  }

  const { name } = config
  const channel = new BroadcastChannel(name)
  channel.onmessage = (event) => {
    const message = parseTabMessage(event.data, host.clock(), config.clock.now())
    if (DEV && !message) log?.('tab message ignored: malformed, or out of range')
    if (message) onMessage(message)
  }
  let closed = false
  const post = (message: Outgoing): void => {
    // A save can finish after destroy(): a closed channel takes nothing, and says so by throwing.
    if (DEV && !closed) log?.('tab message sent', messageForLog(message))
    if (!closed) channel.postMessage({ ...message, from: host.tabId })
  }
  const leadership = DEV ? createLeadership(config.locks, `${name}:leader`, log) : createLeadership(config.locks, `${name}:leader`)
  leadership.onLead(() => {
    tookOverAt = config.clock.now()
    // Catch up before acting: the previous leader's last broadcast may still be on its way.
    post({ type: 'hello', gen: host.clock() })
    notify() // a follower waiting on the old leader now does the work itself
  })

  /**
   * The leader serves a follower's request: it takes the follower's session if that is news, then
   * renews it if it holds exactly that state, or answers with what it holds instead.
   */
  function serve(record: SessionRecord): void {
    const { sid, rotation } = record as Required<SessionRecord>
    host.adopt({ type: 'session', gen: host.clock(), from: host.tabId, cause: 'sync', record })
    const held = host.held()
    if (DEV) log?.(held?.sid === sid && held.rotation === rotation ? 'refreshing for another tab' : 'another tab asked for a refresh of a state this tab does not hold: answering with what it holds', { sid, rotation })
    const ack = (): void => post({ type: 'ack', gen: host.clock(), sid, rotation })
    ack()
    if (held?.sid === sid && held.rotation === rotation) {
      // The refresh may take retries and backoff: say "still working" while it does, so the follower
      // takes over only from a leader that went silent (frozen or hung), never from a busy one.
      let beat: TimerHandle
      const keepAlive = (): void => {
        beat = config.clock.setTimeout(() => (ack(), keepAlive()), config.lockTimeoutMs / 2)
      }
      keepAlive()
      host
        .refresh()
        .catch((error: AuthError | undefined) => {
          if (isTransient(error?.code)) {
            const retryAfterMs = error.retryAfterMs
            post({ type: 'failed', gen: host.clock(), sid, rotation, code: error.code, ...(retryAfterMs !== undefined && { retryAfterMs: Math.ceil(retryAfterMs) }) })
          }
        })
        .finally(() => config.clock.clearTimeout(beat))
    } else {
      host.answer(sid).forEach(post)
    }
  }

  /** Waits until `settled` says so for a message or a change, or until `ms` passed (then undefined). */
  function waitFor<T>(ms: number, settled: (message?: TabMessage) => T | undefined): Promise<T | undefined> {
    return new Promise((resolve) => {
      const done = (value: T | undefined): void => {
        config.clock.clearTimeout(timer)
        waiters.delete(check)
        resolve(value)
      }
      const check = (message?: TabMessage): void => {
        const value = settled(message)
        if (value !== undefined) done(value)
      }
      const timer = config.clock.setTimeout(() => done(undefined), ms)
      waiters.add(check)
    })
  }

  async function clearToRefresh(record: SessionRecord, stale: () => boolean): Promise<boolean> {
    if (await leadership.confirm()) {
      if (stale()) return false
      const settling = tookOverAt + config.tabSyncTimeoutMs - config.clock.now()
      if (settling <= 0) return true
      if (DEV) log?.('refresh: this tab just took the lead; waiting for the last news of the tab before it', { waitMs: settling })
      if ((await waitFor(settling, () => (stale() ? false : undefined))) === false) return false
      // A tab that stole the lock just after this one took it over leads now: ask again.
      if (await leadership.confirm()) return true
    }
    if (stale()) return false
    const { sid, rotation } = record as Required<SessionRecord>
    const ask = (): void => post({ type: 'refresh-request', gen: host.clock(), record })
    if (DEV) log?.('refresh: asking the leader tab to refresh', { sid, rotation })
    ask()
    let patience = config.lockTimeoutMs
    for (;;) {
      const outcome = await waitFor<boolean | 'ack' | 'asked' | AuthError>(patience, (message) => {
        if (stale()) return false
        if (leadership.isLeader()) return true
        // A tab that just took over says hello: the request may have gone to the leader that left.
        if (message?.type === 'hello') return (ask(), 'asked')
        if ((message?.type === 'ack' || message?.type === 'failed') && message.sid === sid && message.rotation === rotation) {
          return message.type === 'ack' ? 'ack' : new AuthError(message.code, DEV ? 'refresh: failed in the leader tab' : '', { retryAfterMs: message.retryAfterMs })
        }
        return undefined
      })
      if (DEV) {
        log?.(
          outcome instanceof AuthError
            ? "refresh: the leader tab's refresh failed"
            : outcome === true
              ? 'refresh: this tab leads now (the leader left)'
              : outcome === false
                ? 'refresh: not needed here any more (the session changed meanwhile)'
                : outcome === 'ack'
                  ? 'refresh: the leader tab is working on it'
                  : outcome === 'asked'
                    ? 'refresh: a new leader tab; asked it again'
                    : 'refresh: the leader tab did not answer',
          { sid, rotation, ...(outcome instanceof AuthError && { code: outcome.code, retryAfterMs: outcome.retryAfterMs }), ...(outcome === undefined && { waitedMs: patience }) },
        )
      }
      if (outcome instanceof AuthError) throw outcome
      // Leading now (the old leader left): catch up first, as any new leader does.
      if (outcome === true) return clearToRefresh(record, stale)
      if (outcome === false) return false
      if (outcome === 'ack' || outcome === 'asked') {
        // The leader is alive and working: give its request the time it may take.
        patience = outcome === 'ack' ? config.requestTimeoutMs + config.lockTimeoutMs : config.lockTimeoutMs
        continue
      }
      // No answer in time: the leader is frozen or hung. Take the lock, then refresh here once it
      // is confirmed ours: several followers may be stealing it at the same moment.
      if (stale()) return false
      if (DEV) log?.('taking the lead from a leader tab that does not answer (frozen or hung)', { sid, rotation })
      leadership.steal()
      return clearToRefresh(record, stale)
    }
  }

  return {
    publish(change) {
      post(change)
      notify()
    },
    clearToRefresh,
    async askSiblings(sid) {
      const version = host.version()
      if (DEV) log?.('asking the other tabs for their state', { sid, waitMs: config.tabSyncTimeoutMs })
      post({ type: 'hello', gen: host.clock(), ...(sid && { sid }) })
      await waitFor(config.tabSyncTimeoutMs, () => (host.version() !== version ? true : undefined))
      if (DEV) log?.(host.version() !== version ? 'the other tabs answered with news, taken' : 'no news from the other tabs')
    },
    exclusive(task) {
      // A lock refused outright (a sandboxed frame) runs the task alone.
      return config.locks.request(`${name}:exclusive`, task).catch(task)
    },
    retire() {
      retired = true
      notify()
    },
    close() {
      closed = true
      channel.close()
      leadership.close()
      notify()
      waiters.clear()
    },
  }
}
