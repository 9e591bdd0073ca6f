/**
 * Which tab is the leader: the one holding an exclusive Web Lock for as long as it lives. The
 * browser hands the lock to the next tab in line when the leader closes or crashes; a leader that
 * is frozen or hung can have it stolen (`steal: true`) by a tab that waited too long for it.
 */
export interface Leadership {
  isLeader(): boolean
  /** Subscribes to becoming leader; returns the unsubscribe. */
  onLead(listener: () => void): () => void
  /** Takes the lock from a leader that does not answer. */
  steal(): void
  close(): void
}

export function createLeadership(locks: LockManager, name: string): Leadership {
  const listeners = new Set<() => void>()
  let leader = false
  let closed = false
  let release: (() => void) | undefined
  let pending = new AbortController()

  const hold = (): Promise<void> =>
    new Promise<void>((resolve) => {
      leader = true
      release = resolve
      for (const listener of [...listeners]) listener()
    })

  let attempt = 0
  const request = (steal: boolean): void => {
    const mine = ++attempt
    pending = new AbortController()
    locks.request(name, steal ? { steal: true } : { signal: pending.signal }, hold).then(
      () => undefined,
      () => {
        // Superseded (we left the queue to steal) or shutting down: nothing to do.
        if (mine !== attempt || closed) return
        // Stolen from us: we are a follower again, back in the queue.
        leader = false
        release = undefined
        request(false)
      },
    )
  }
  request(false)

  return {
    isLeader: () => leader,
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
