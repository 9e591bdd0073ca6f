import { isAuthError } from './errors.js'
import { pageUrl } from './url.js'

/** What the fetch wrapper needs from the client's options. */
export interface AuthFetchOptions {
  fetch: typeof globalThis.fetch
  /** Relative URLs resolve against the page, or against the login endpoint outside a browser. */
  endpoints: { login: string }
  allowedOrigins: ReadonlySet<string>
}

function documentBase(): string | undefined {
  const base = (globalThis as { document?: { baseURI?: unknown } }).document?.baseURI
  return typeof base === 'string' && /^https?:/.test(base) ? base : pageUrl()?.href
}

/** Streams are read once; every other body init can be sent again as it is. */
const isReplayableBody = (body: BodyInit | null | undefined): boolean =>
  !(typeof ReadableStream !== 'undefined' && body instanceof ReadableStream)

/**
 * A drop-in `fetch` that attaches `Authorization: Bearer` to requests whose parsed origin is on the
 * allow-list, and on a 401 waits for one shared refresh and replays the request once. Everything
 * else goes out untouched. The fast path decodes no JWT and builds no `Request`: the token rides in
 * a merged `init`.
 */
export function createAuthFetch(
  deps: AuthFetchOptions,
  getAccessToken: () => Promise<string | null>,
  /** After a 401 on `rejected`: the token to replay with (one shared refresh), or null for none. */
  tokenAfterUnauthorized: (rejected: string) => Promise<string | null>,
): typeof globalThis.fetch {
  return async function authFetch(input, init) {
    const isRequest = typeof Request !== 'undefined' && input instanceof Request
    let url: URL
    try {
      url = isRequest ? new URL(input.url) : new URL(input as string | URL, documentBase() ?? deps.endpoints.login)
    } catch {
      return deps.fetch(input, init) // let the platform report its own error
    }
    if (!deps.allowedOrigins.has(url.origin)) return deps.fetch(input, init)

    // fetch(request, { headers }) replaces the request's headers, so start from them.
    const headers = new Headers(init?.headers ?? (isRequest ? input.headers : undefined))
    if (headers.has('authorization')) return deps.fetch(input, init) // the app chose its own credentials

    let token: string | null
    try {
      token = await getAccessToken()
    } catch (error) {
      // An expired session sends the request as a logged-out one would; other failures surface.
      if (!isAuthError(error) || error.code !== 'session_expired') throw error
      token = null
    }
    if (token === null) return deps.fetch(input, init)

    // Keep what a replay needs, and no more: a Request with a body must be cloned before it is sent.
    const target: RequestInfo | URL = isRequest ? input : url
    const replayTarget = isRequest && input.body !== null ? input.clone() : target
    const canReplay = isReplayableBody(init?.body) && !(isRequest && input.bodyUsed)

    headers.set('authorization', `Bearer ${token}`)
    const response = await deps.fetch(target, { ...init, headers })
    if (response.status !== 401 || !canReplay) return response

    const fresh = await tokenAfterUnauthorized(token)
    if (fresh === null || fresh === token) return response
    // Release the discarded answer's connection; some engines never settle this promise, so no await.
    response.body?.cancel().catch(() => undefined)
    headers.set('authorization', `Bearer ${fresh}`)
    return deps.fetch(replayTarget, { ...init, headers })
  }
}
