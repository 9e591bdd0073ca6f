import type { Clock } from './clock.js'
import type { Logger } from './log.js'
import type { SessionState } from './session.js'
import { DEV } from './dev.js'

/** The options that say when a token is worth handing out and when to renew it. */
export interface ExpiryPolicy {
  clock: Pick<Clock, 'now'>
  refreshMarginMs: number
  minTokenValidityMs: number
  /** The debug log (development build). */
  log?: Logger | undefined
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
 * being usable, to end the session then. The client schedules its refresh (or its end) there.
 */
export function refreshDueAt({ session: { expiresAt }, receivedAt }: SessionState<unknown>, canRefresh: boolean, policy: ExpiryPolicy): number {
  const at = expiresAt - (canRefresh ? Math.min(policy.refreshMarginMs, (expiresAt - receivedAt) / 2) : policy.minTokenValidityMs)
  if (DEV) {
    const now = policy.clock.now()
    policy.log?.(canRefresh ? 'refresh scheduled' : 'end of session scheduled', {
      inMs: Math.max(0, Math.round(at - now)),
      dueAt: new Date(at).toISOString(),
      expiresInMs: Math.round(expiresAt - now),
      marginMs: Math.round(expiresAt - at),
      why: !canRefresh
        ? 'no refresh token: the session ends when the token has less than minTokenValidityMs left'
        : expiresAt - at < policy.refreshMarginMs
          ? 'half the token lifetime before expiry (refreshMarginMs is more than half of it)'
          : 'refreshMarginMs before expiry',
    })
  }
  return at
}
