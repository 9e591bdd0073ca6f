import type { Clock } from './clock.js'
import type { SessionState } from './session.js'

/** The options that say when a token is worth handing out and when to renew it. */
export interface ExpiryPolicy {
  clock: Pick<Clock, 'now'>
  refreshMarginMs: number
  minTokenValidityMs: number
}

/**
 * Whether the token may be handed out now: `minTokenValidityMs` left, or half its lifetime for
 * a token shorter than twice that, else a 4-second token would be refreshed on every request.
 */
export function isUsable({ session: { expiresAt }, receivedAt }: SessionState<unknown>, policy: ExpiryPolicy): boolean {
  return expiresAt - policy.clock.now() >= Math.min(policy.minTokenValidityMs, (expiresAt - receivedAt) / 2)
}

/**
 * When to refresh: `refreshMarginMs` ahead of expiry, never more than half the lifetime, so a
 * short-lived token cannot cause a refresh loop; or, when nothing can renew it, when it stops
 * being usable, to end the session then.
 */
export function refreshDueAt({ session: { expiresAt }, receivedAt }: SessionState<unknown>, canRefresh: boolean, policy: ExpiryPolicy): number {
  return expiresAt - (canRefresh ? Math.min(policy.refreshMarginMs, (expiresAt - receivedAt) / 2) : policy.minTokenValidityMs)
}
