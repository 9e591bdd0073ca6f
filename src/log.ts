import { isAuthError } from './errors.js'

/**
 * Receives the client's debug log, one line for each step of the session's life: restore, refresh
 * scheduled and why, refresh and retries, the leader tab, messages between tabs, 401 replays,
 * storage failures, login, logout and expiry. `details` holds session ids, error codes, statuses,
 * delays and URLs (origin and path): never a token, a credential, a code or a key. Only the
 * development build logs (see the README, Debug log).
 *
 * @example
 * ```ts
 * const logger: Logger = (message, details) => myLogs.push({ at: Date.now(), message, ...details })
 * const auth = createAuthClient({ baseUrl: 'https://api.example.com', logger })
 * ```
 */
export type Logger = (message: string, details?: Record<string, unknown>) => void

/**
 * The client's log: the app's `logger`, else with `debug` one that writes to `console.debug`, else
 * none. A logger that throws changes nothing for the client.
 */
export function createLog({ debug, logger }: { debug?: boolean | undefined; logger?: Logger | undefined }): Logger | undefined {
  const write: Logger | undefined =
    typeof logger === 'function'
      ? logger
      : debug === true
        ? (message, details) => (details ? console.debug(`[tokenkeeper] ${message}`, details) : console.debug(`[tokenkeeper] ${message}`))
        : undefined
  return (
    write &&
    ((message, details) => {
      try {
        write(message, details)
      } catch {
        // The app's logger failing is no failure of the session.
      }
    })
  )
}

/** A URL as the log shows it: origin and path. The query and fragment may hold a code, a state or a token. */
export function urlForLog(url: string | URL): string {
  try {
    const { origin, pathname } = new URL(url)
    return origin + pathname
  } catch {
    return '(not a URL)'
  }
}

/** What the log tells of a failure: its code, status and wait, never its message's cause. */
export function errorForLog(error: unknown): Record<string, unknown> {
  if (!isAuthError(error)) return { code: 'unknown' }
  const { code, status, retryAfterMs } = error
  return { code, ...(status !== undefined && { status }), ...(retryAfterMs !== undefined && { retryAfterMs }) }
}

/**
 * What the log tells of a change of the session (a transition's outcome, sessionMachine.ts): its
 * events, the session's id and rotation, and why it ended. Never an event's payload, which may hold
 * the session and its token. For the client: `if (DEV) o.log?.(...transitionForLog(outcome))`.
 */
export function transitionForLog(outcome: {
  from?: { sid: string } | undefined
  to?: { sid: string; rotation: number } | undefined
  events: readonly (readonly [string, unknown])[]
}): [string, Record<string, unknown>] {
  const { from, to, events } = outcome
  const ended = events.find(([type]) => type === 'logout' || type === 'session-expired')?.[1] as { reason?: unknown; error?: unknown } | undefined
  return [
    `session: ${events.map(([type]) => type).join(' + ') || 'no event'}`,
    {
      sid: to?.sid ?? from?.sid,
      ...(to && { rotation: to.rotation }),
      ...(ended && { reason: ended.reason }),
      ...(ended?.error !== undefined && errorForLog(ended.error)),
    },
  ]
}
