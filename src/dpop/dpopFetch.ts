import { DEV } from '../dev.js'
import { AuthError } from '../errors.js'
import { createProof, type DpopKey } from './proof.js'

/** RFC 9449 §8.1: a nonce is 1*NQCHAR (printable ASCII but `"` and `\`); anything else is junk, ignored. */
const NONCE = /^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/

/** RFC 9449 §9: an API that wants a (newer) nonce answers 401 with `use_dpop_nonce` in its DPoP challenge. */
const asksForNonce = (response: Response): boolean => response.status === 401 && /use_dpop_nonce/.test(response.headers.get('www-authenticate')!)

/**
 * The `fetch` beneath the client: `auth.fetch`'s requests to an allowed origin get a fresh proof,
 * their `Authorization: Bearer` going out as `Authorization: DPoP` with the token's hash in the
 * proof. The `DPoP-Nonce` of every answer to a proof (these, and the auth server's, which `dpop()`
 * signs itself) is kept for the next proof to that origin; an API's answer asking for one is sent
 * again once, with no refresh (the auth server's, `dpop()` sends again itself: it reads the parsed
 * body). Everything else goes out untouched.
 */
export function dpopFetch(
  fetch: typeof globalThis.fetch,
  /** The latest nonce of each origin: kept here from the answers, read by `dpop()`'s protocol too. */
  nonces: Map<string, string>,
  /** The key an access token is bound to; undefined when the session's key is gone. */
  keyFor: (accessToken: string) => Promise<DpopKey | undefined>,
  /** Told that a server accepted the token with a proof from `key`: they belong together. */
  confirm: (accessToken: string, key: DpopKey) => void,
  /** Whether the client sends its token to this origin (its resolved `allowedOrigins`). */
  allowed: (origin: string) => boolean,
  now: () => number,
): typeof globalThis.fetch {
  const keep = (origin: string, response: Response): void => {
    const given = response.headers.get('dpop-nonce')
    // A redirected answer speaks for another URL, maybe another origin: its nonce is not this origin's.
    if (given && NONCE.test(given) && !response.redirected) nonces.set(origin, given)
  }
  return async (input, init) => {
    const request = input instanceof Request ? input : undefined
    const headers = new Headers(init?.headers ?? request?.headers)
    const bearer = /^bearer +(\S+)$/i.exec(headers.get('authorization') ?? '')?.[1]
    // Absolute: auth.fetch and the client resolve every URL they send; a bad one throws as fetch would.
    const { origin, pathname } = new URL(request?.url ?? String(input))
    // The protocol's requests to the auth server carry their proof already (dpop() signs them);
    // a nonce is only ever used for its own origin, so any answer's is kept.
    if (!bearer || !allowed(origin)) return fetch(input, init).then((response) => (keep(origin, response), response))
    const key = await keyFor(bearer)
    // fetch() upper-cases the six standard methods only; `htm` must be the method as sent.
    const method = new Request(origin, { method: init?.method ?? request?.method }).method
    // A body goes once: a Request's (auth.fetch replays those itself) and a stream's.
    const canRepeat = !(request?.body || init?.body instanceof ReadableStream)

    const send = async (): Promise<[Response, string | undefined]> => {
      const nonce = nonces.get(origin)
      headers.set('authorization', `DPoP ${bearer}`)
      // Without its key the token is refused: the 401 leads auth.fetch to a refresh, which ends the session.
      if (key) headers.set('dpop', await createProof(key, method, origin + pathname, now(), nonce, bearer))
      const response = await fetch(input, { ...init, headers })
      keep(origin, response)
      if (key && response.status !== 401) confirm(bearer, key)
      return [response, nonce]
    }

    let [response, sent] = await send()
    if (!canRepeat || !asksForNonce(response)) return response
    // Asked for a nonce and given a usable new one: once more, never a third time.
    if (nonces.get(origin) !== sent) [response] = await send()
    // Refused again: sending it on would cost a refresh per request.
    if (!asksForNonce(response)) return response
    throw new AuthError('server', DEV ? `${method} ${origin + pathname}: the server refused the DPoP nonce twice, or sent none usable` : '', { status: 401 })
  }
}
