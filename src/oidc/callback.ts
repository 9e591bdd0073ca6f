import { AuthError } from '../errors.js'
import { DEV } from '../dev.js'

/** One login by redirect that this tab started, waiting in sessionStorage for its callback. */
export interface Attempt {
  verifier: string
  nonce: string | undefined
  /** Where the app lands after the callback: a URL of this origin. */
  returnTo: string
  /** When the login left the page (ms since epoch). */
  at: number
}

/** A callback in the page's URL, taken: its parameters, and the attempt its `state` names or why there is none. */
export type Callback = { params: URLSearchParams; attempt: Attempt; problem?: undefined } | { params: URLSearchParams; attempt?: undefined; problem: AuthError }

const PREFIX = 'tokenkeeper.oidc:'
/** The `state` of the RP-initiated logout this tab left for, so its return can be cleaned up. */
const LOGOUT_KEY = `${PREFIX}logout`
/** How long a login may stay at the provider, as oidc-client-ts allows: time for a slow second factor. */
const ATTEMPT_TTL_MS = 15 * 60_000
/** What a provider adds to the redirect URI, removed from the address bar at once. */
const CALLBACK_PARAMS = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri', 'session_state']

/** An attempt read back from sessionStorage (untrusted): undefined when malformed or too old. */
function readAttempt(raw: string | null): Attempt | undefined {
  try {
    const attempt = JSON.parse(raw!) as Attempt
    const age = Date.now() - attempt.at
    // A verifier as RFC 7636 §4.1 makes them (this client makes 43 characters).
    return /^[\w.~-]{43,128}$/.test(attempt.verifier) &&
      typeof attempt.at === 'number' &&
      (attempt.nonce === undefined || typeof attempt.nonce === 'string') &&
      new URL(attempt.returnTo).origin === location.origin &&
      age >= -60_000 &&
      age < ATTEMPT_TTL_MS
      ? attempt
      : undefined
  } catch {
    return undefined
  }
}

/**
 * Saves a login attempt under its `state`, first removing the attempts that can no longer
 * complete (abandoned logins would otherwise pile up in the tab's sessionStorage).
 * @throws {AuthError} `storage` when sessionStorage refuses it.
 */
export function saveAttempt(state: string, attempt: Attempt): void {
  try {
    for (let index = sessionStorage.length; index--; ) {
      const key = sessionStorage.key(index)
      if (key?.startsWith(PREFIX) && !readAttempt(sessionStorage.getItem(key))) sessionStorage.removeItem(key)
    }
    sessionStorage.setItem(PREFIX + state, JSON.stringify(attempt))
  } catch (cause) {
    throw new AuthError('storage', DEV ? 'login: sessionStorage refused the login attempt' : '', { cause })
  }
}

/** Keeps the `state` sent to the provider's end_session endpoint (sessionStorage failing: nothing kept). */
export function saveLogoutState(state: string): void {
  try {
    sessionStorage.setItem(LOGOUT_KEY, state)
  } catch {
    // the return keeps its ?state= then: harmless
  }
}

/**
 * Takes the callback from the page's URL, synchronously, or gives undefined when the page is not
 * the redirect URI with a `code` or an `error`. The attempt is read **and removed** and the
 * callback's parameters leave the address bar (and the history entry) before anything awaits, so
 * a second client, a second effect or a reload finds nothing to redeem twice.
 */
export function takeCallback(redirectUri: URL): Callback | undefined {
  const href = globalThis.location?.href
  if (!href) return undefined // not in a browser
  const url = new URL(href)
  const params = new URLSearchParams(url.search)
  const state = params.get('state')
  if (!(params.has('code') || params.has('error'))) {
    // Back from the provider's logout, with the state this tab sent: it leaves the address bar too.
    try {
      if (state && state === sessionStorage.getItem(LOGOUT_KEY)) {
        sessionStorage.removeItem(LOGOUT_KEY)
        url.searchParams.delete('state')
        history.replaceState(history.state, '', url.href)
      }
    } catch {
      // no sessionStorage: nothing was kept
    }
    return undefined
  }
  if (url.origin !== redirectUri.origin || url.pathname !== redirectUri.pathname) return undefined
  let attempt: Attempt | undefined
  try {
    if (state) {
      attempt = readAttempt(sessionStorage.getItem(PREFIX + state))
      sessionStorage.removeItem(PREFIX + state)
    }
  } catch {
    // no sessionStorage: no attempt
  }
  for (const name of CALLBACK_PARAMS) url.searchParams.delete(name)
  try {
    history.replaceState(history.state, '', attempt?.returnTo ?? url.href)
  } catch {
    // A browser that refuses (a sandboxed frame, Safari's limit on history calls): the code stays in
    // the address bar, but the attempt is gone, so a reload can never redeem it again.
  }
  // RFC 6749 §3.1: no parameter twice; a second `iss` or `state` could be someone else's.
  const repeated = ['code', 'state', 'iss', 'error'].some((name) => params.getAll(name).length > 1)
  return attempt && !repeated
    ? { params, attempt }
    : { params, problem: new AuthError('invalid_callback', DEV ? `callback: ${repeated ? 'a parameter came twice' : state ? 'no login of this tab waits for this state (unknown, expired or used already)' : 'no state'}` : '') }
}
