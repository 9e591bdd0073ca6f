import { DEV } from '../dev.js'
import { AuthError } from '../errors.js'
import { createProof, type DpopKey } from './proof.js'

/** RFC 9449 §8.1: a nonce is 1*NQCHAR (printable ASCII but `"` and `\`); anything else is junk, ignored. */
const NONCE = /^[\x21\x23-\x5b\x5d-\x7e]+$/

/** RFC 9449 §9: an API that wants a (newer) nonce answers 401 with `use_dpop_nonce` in its DPoP challenge. */
const asksForNonce = (response: Response): boolean => response.status === 401 && /use_dpop_nonce/.test(response.headers.get('www-authenticate')!)

/**
 * The `fetch` beneath the client: every request that needs a proof gets a fresh one. Those are
 * the protocol's requests to the auth server (marked by `dpop()`), and `auth.fetch`'s to an allowed
 * origin, whose `Authorization: Bearer` goes out as `Authorization: DPoP` with the token's hash in
 * the proof. The latest `DPoP-Nonce` of each origin goes into the next proof; an API's answer
 * asking for one is sent again once, with no refresh (the auth server's, `dpop()` sends again
 * itself: it reads the parsed body). Everything else goes out untouched.
 */
export function dpopFetch(
  fetch: typeof globalThis.fetch,
  /**
   * The key a request to the auth server was marked with (its `DPoP` header names the key's id),
   * or the key an access token is bound to; undefined when the session's key is gone.
   */
  keyFor: (name: string) => Promise<DpopKey | undefined>,
  /** Whether the client sends its token to this origin (its resolved `allowedOrigins`). */
  allowed: (origin: string) => boolean,
  now: () => number,
): typeof globalThis.fetch {
  const nonces = new Map<string, string>()
  return async (input, init) => {
    const request = input instanceof Request ? input : undefined
    const headers = new Headers(init?.headers ?? request?.headers)
    const bearer = /^bearer +(\S+)$/i.exec(headers.get('authorization') ?? '')?.[1]
    const mark = headers.get('dpop')
    // Absolute: auth.fetch and the client resolve every URL they send; a bad one throws as fetch would.
    const { origin, pathname } = new URL(request?.url ?? String(input))
    const name = mark ?? (bearer && allowed(origin) && bearer)
    if (!name) return fetch(input, init)
    const key = await keyFor(name)
    // fetch() upper-cases the six standard methods only; `htm` must be the method as sent.
    const method = new Request(origin, { method: init?.method ?? request?.method }).method
    // A body goes once: a Request's (auth.fetch replays those itself) and a stream's.
    const canRepeat = !(request?.body || init?.body instanceof ReadableStream)

    const send = async (): Promise<[Response, string | undefined]> => {
      const nonce = nonces.get(origin)
      if (bearer) headers.set('authorization', `DPoP ${bearer}`)
      // Without its key the token is refused: the 401 leads auth.fetch to a refresh, which ends the session.
      if (key) headers.set('dpop', await createProof(key, method, origin + pathname, now(), nonce, bearer))
      const response = await fetch(input, { ...init, headers })
      const given = response.headers.get('dpop-nonce')
      if (given && NONCE.test(given)) nonces.set(origin, given)
      return [response, nonce]
    }

    let [response, sent] = await send()
    if (mark || !canRepeat || !asksForNonce(response)) return response
    // Asked for a nonce and given a usable new one: once more, never a third time.
    if (nonces.get(origin) !== sent) [response] = await send()
    // Refused again: sending it on would cost a refresh per request.
    if (!asksForNonce(response)) return response
    throw new AuthError('server', DEV ? `${method} ${origin + pathname}: the server refused the DPoP nonce twice, or sent none usable` : '', { status: 401 })
  }
}
