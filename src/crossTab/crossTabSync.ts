import type { Clock } from '../clock.js'
import { AuthError } from '../errors.js'
import type { SessionRecord } from '../session.js'
import { createLeadership } from './leadership.js'
import { isTransient, parseTabMessage, type TabMessage } from './tabMessage.js'

type Change = Extract<TabMessage, { type: 'session' | 'logout' | 'expired' }>
/** A message as this tab writes it: the channel adds `from`. */
type Outgoing<M = TabMessage> = M extends TabMessage ? Omit<M, 'from'> : never

/** What the sync needs from the client it serves. */
export interface SyncHost {
  readonly tabId: string
  /** The generation of this tab's state, and the tab that produced it. */
  gen(): number
  origin(): string
  /** The current session as a record, or undefined when logged out. */
  record(): SessionRecord | undefined
  /** Applies a newer state from another tab. */
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
}

export interface CrossTabSync {
  /** Tells the other tabs about a change made here. */
  publish(change: Outgoing<Change>): void
  /**
   * Called before a refresh goes to the network, for the session of generation `gen`.
   * Resolves true when this tab should send it (it leads, or took over from a silent leader),
   * false when a newer state arrived meanwhile. Rejects with the leader's transient failure.
   */
  clearToRefresh(gen: number): Promise<boolean>
  /** Asks the other tabs for their session and waits until one is adopted or the wait ends. */
  askSiblings(): Promise<void>
  /** Runs `task`, which must not reject, while no other tab runs its own (a Web Lock). */
  exclusive(task: () => Promise<void>): Promise<unknown>
  close(): void
}

/** Logout and expiry beat a session of the same generation; between two sessions the larger tab id wins. */
function isNewer(change: Change, host: SyncHost): boolean {
  if (change.gen !== host.gen()) return change.gen > host.gen()
  const loggedIn = host.record() !== undefined
  if (change.type !== 'session') return loggedIn
  return loggedIn && change.from > host.origin()
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

  const onMessage = (message: TabMessage): void => {
    switch (message.type) {
      case 'hello':
        if (host.record()) post(current())
        break
      case 'refresh-request':
        if (leadership.isLeader()) serve(message.gen)
        break
      case 'ack':
      case 'failed':
        break
      default:
        if (isNewer(message, host)) host.adopt(message)
    }
    notify(message)
  }

  const { name } = config
  const channel = new BroadcastChannel(name)
  channel.onmessage = (event) => {
    const message = parseTabMessage(event.data)
    if (message) onMessage(message)
  }
  let closed = false
  const post = (message: Outgoing): void => {
    // A save can finish after destroy(): a closed channel takes nothing, and says so by throwing.
    if (!closed) channel.postMessage({ ...message, from: host.tabId })
  }
  /** This tab's state, as an answer to a tab that asked. */
  const current = (): Outgoing => {
    const record = host.record()
    return record ? { type: 'session', gen: host.gen(), cause: 'sync', record } : { type: 'logout', gen: host.gen() }
  }
  const leadership = createLeadership(config.locks, `${name}:leader`)
  leadership.onLead(() => {
    tookOverAt = config.clock.now()
    // Catch up before acting: the previous leader's last broadcast may still be on its way.
    post({ type: 'hello' })
    notify() // a follower waiting on the old leader now does the work itself
  })

  /** The leader answers a follower: what it has if newer, else a refresh of the same session. */
  function serve(gen: number): void {
    post({ type: 'ack', gen })
    if (host.gen() > gen) {
      post(current())
    } else if (host.record() && host.gen() === gen) {
      host.refresh().catch((error: AuthError | undefined) => {
        const code = error?.code
        if (isTransient(code)) post({ type: 'failed', gen, code })
      })
    } else {
      // The follower knows a session we do not: have it sent, and our schedule refreshes it.
      post({ type: 'hello' })
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

  async function clearToRefresh(gen: number): Promise<boolean> {
    if (await leadership.confirm()) {
      if (host.gen() !== gen) return false
      const settling = tookOverAt + config.tabSyncTimeoutMs - config.clock.now()
      return settling > 0 ? ((await waitFor(settling, () => (host.gen() !== gen ? false : undefined))) ?? true) : true
    }
    if (host.gen() !== gen) return false
    post({ type: 'refresh-request', gen })
    let patience = config.lockTimeoutMs
    for (;;) {
      const outcome = await waitFor<boolean | 'ack' | AuthError>(patience, (message) => {
        if (host.gen() !== gen) return false
        if (leadership.isLeader()) return true
        if (message?.type === 'ack' && message.gen === gen) return 'ack'
        if (message?.type === 'failed' && message.gen === gen) {
          return new AuthError(message.code, 'refresh: failed in the leader tab')
        }
        return undefined
      })
      if (outcome instanceof AuthError) throw outcome
      // Leading now (the old leader left): catch up first, as any new leader does.
      if (outcome === true) return clearToRefresh(gen)
      if (outcome === false) return false
      if (outcome === 'ack') {
        // The leader is alive and working: give its request the time it may take.
        patience = config.requestTimeoutMs + config.lockTimeoutMs
        continue
      }
      // No answer in time: the leader is frozen or hung. Take the lock and do it here.
      leadership.steal()
      return true
    }
  }

  return {
    publish(change) {
      post(change)
      notify()
    },
    clearToRefresh,
    async askSiblings() {
      const gen = host.gen()
      post({ type: 'hello' })
      await waitFor(config.tabSyncTimeoutMs, () => (host.gen() !== gen ? true : undefined))
    },
    exclusive(task) {
      // A lock refused outright (a sandboxed frame) runs the task alone.
      return config.locks.request(`${name}:exclusive`, task).catch(task)
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
