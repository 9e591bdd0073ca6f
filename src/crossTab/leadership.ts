import type { Logger } from '../log.js'
import { DEV } from '../dev.js'

/**
 * Which tab is the leader: the one holding an exclusive Web Lock for as long as it lives. The
 * browser hands the lock to the next tab in line when the leader closes or crashes; a leader that
 * is frozen or hung can have it stolen (`steal: true`) by a tab that waited too long for it.
 */
export interface Leadership {
  isLeader(): boolean
  /**
   * Asks the browser whether this tab still holds the lock. A tab that was frozen learns that its
   * lock was stolen only when that news is processed, which may come after older messages that
   * would have it refresh with a token already used: check before every refresh.
   */
  confirm(): Promise<boolean>
  /** Subscribes to becoming leader; returns the unsubscribe. */
  onLead(listener: () => void): () => void
  /** Takes the lock from a leader that does not answer. */
  steal(): void
  close(): void
}

export function createLeadership(locks: LockManager, name: string, log?: Logger): Leadership
export function createLeadership(locks: LockManager, name: string): Leadership {
  // The debug log comes in the development build only: read it there, so the production build has no trace of it.
  const log = DEV ? (arguments[2] as Logger | undefined) : undefined
  const listeners = new Set<() => void>()
  let leader = false
  let closed = false
  let release: (() => void) | undefined
  let pending = new AbortController()

  /** The lock manager's id for this tab, learnt from the lock it just granted us. */
  let clientId: string | undefined

  const hold = (): Promise<void> =>
    new Promise<void>((resolve) => {
      if (DEV) log?.('this tab leads now: it alone sends refresh tokens, for every tab')
      leader = true
      release = resolve
      holder().then((id) => (clientId = id), () => undefined)
      for (const listener of [...listeners]) listener()
    })
  const holder = async (): Promise<string | undefined> =>
    typeof locks.query === 'function' ? (await locks.query()).held?.find((lock) => lock.name === name)?.clientId : undefined

  let attempt = 0
  const request = (steal: boolean): void => {
    const mine = ++attempt
    pending = new AbortController()
    locks.request(name, steal ? { steal: true } : { signal: pending.signal }, hold).catch((error: unknown) => {
      // Superseded (we left the queue to steal) or shutting down: nothing to do.
      if (mine !== attempt || closed) return
      release = undefined
      // Stolen from us: we are a follower again, back in the queue.
      if ((error as Error | undefined)?.name === 'AbortError') {
        if (DEV) log?.('another tab took the lead from this one')
        leader = false
        request(false)
        return
      }
      // Refused outright (a sandboxed frame's opaque origin: SecurityError). Asking again would
      // spin; no other tab can share this origin's channel anyway, so this one acts alone.
      if (DEV) log?.('the leader lock was refused (an opaque origin?): this tab acts alone')
      leader = true
    })
  }
  request(false)

  return {
    isLeader: () => leader,
    async confirm() {
      if (!leader) return false
      try {
        const current = await holder()
        // Without the lock manager's ids to compare, trust what we were told.
        if (clientId === undefined || current === undefined || current === clientId) return leader
        leader = false
        return false
      } catch {
        return leader
      }
    },
    onLead(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    steal() {
      if (leader || closed) return
      pending.abort() // leave the queue; the stolen lock is ours at once
      request(true)
    },
    close() {
      closed = true
      leader = false
      pending.abort()
      release?.()
      listeners.clear()
    },
  }
}
