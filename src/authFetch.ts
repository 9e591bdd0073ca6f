import { isAuthError } from './errors.js'
import { urlForLog, type Logger } from './log.js'
import { DEV } from './dev.js'

/** What the fetch wrapper needs from the client's options. */
export interface AuthFetchOptions {
  fetch: typeof globalThis.fetch
  /** Relative URLs resolve against the page, or against the login endpoint outside a browser. */
  baseUrl: string
  allowedOrigins: ReadonlySet<string>
  /** The debug log (development build). */
  log?: Logger | undefined
}

/** Characters the URL parser drops, or reads as a slash: a string with one takes the full parse. */
const REWRITTEN = /[\t\n\r\\]/

/** A `Request` by its shape: one from another realm (an iframe's) fails `instanceof Request`. */
function isRequestLike(input: unknown): input is Request {
  const request = input as Request | null
  return (
    typeof request === 'object' &&
    request !== null &&
    typeof request.url === 'string' &&
    typeof request.method === 'string' &&
    typeof request.headers?.get === 'function' &&
    typeof request.clone === 'function'
  )
}

/**
 * Waits for `work` (a refresh other callers share), or rejects as `fetch` does once the caller's
 * `signal` aborts; the refresh itself goes on for the others.
 */
function abortable<T>(work: Promise<T>, signal: AbortSignal | null | undefined): Promise<T> {
  if (!signal) return work
  return new Promise((resolve, reject) => {
    const abort = (): void => reject(signal.reason)
    if (signal.aborted) abort()
    signal.addEventListener('abort', abort)
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort))
  })
}

/**
 * A drop-in `fetch` that attaches `Authorization: Bearer` to requests whose parsed origin is on the
 * allow-list, and on a 401 from an allowed origin (after redirects) waits for one shared refresh
 * and replays the request once. Everything else goes out untouched. The fast path decodes no JWT and builds no `Request` or `Headers`: the
 * token rides in a merged `init`, and an absolute URL that begins with an allowed origin and a
 * slash (the authority ends there, so nothing after it can change the host) needs no parsing.
 */
export function createAuthFetch(
  deps: AuthFetchOptions,
  /** The token when it can be handed out now, without waiting. */
  currentToken: () => string | undefined,
  getAccessToken: () => Promise<string | null>,
  /** After a 401 on `rejected`: the token to replay with (one shared refresh), or null for none. */
  tokenAfterUnauthorized: (rejected: string) => Promise<string | null>,
): typeof globalThis.fetch {
  const origins = [...deps.allowedOrigins]
  const onAllowedOrigin = (input: string): boolean => {
    for (const origin of origins) if (input.startsWith(origin) && input[origin.length] === '/') return true
    return false
  }

  return async function authFetch(input, init) {
    const isRequest = isRequestLike(input)
    let target: RequestInfo | URL = input
    if (!(typeof input === 'string' && !REWRITTEN.test(input) && onAllowedOrigin(input))) {
      let url: URL
      try {
        // Relative to the document (or a worker's location); outside a browser, to the auth server.
        const { document, location } = globalThis as { document?: Document; location?: Location }
        url = new URL(isRequest ? input.url : (input as string | URL), document?.baseURI ?? location?.href ?? deps.baseUrl)
      } catch {
        return deps.fetch(input, init) // let the platform report its own error
      }
      if (!deps.allowedOrigins.has(url.origin)) return deps.fetch(input, init)
      if (!isRequest) target = url.href // resolved, for a relative URL outside a browser
    }

    // fetch(request, { headers }) replaces the request's headers, so start from them.
    const given = init?.headers ?? (isRequest ? input.headers : undefined)
    const plain = given === undefined || Object.getPrototypeOf(given) === Object.prototype
    const merged = plain ? (given as Record<string, string> | undefined) : new Headers(given)
    // An Authorization the app set itself is its choice of credentials: leave the request alone.
    if (plain) {
      for (const name in merged) if (name.toLowerCase() === 'authorization') return deps.fetch(input, init)
    } else if ((merged as Headers).has('authorization')) {
      return deps.fetch(input, init)
    }
    const withToken = (token: string): HeadersInit => {
      if (plain) return { ...merged, authorization: `Bearer ${token}` }
      ;(merged as Headers).set('authorization', `Bearer ${token}`)
      return merged as Headers
    }

    let token: string | null | undefined = currentToken()
    if (token === undefined) {
      try {
        token = await abortable(getAccessToken(), init?.signal ?? (isRequest ? input.signal : undefined))
      } catch (error) {
        // An expired session sends the request as a logged-out one would; other failures surface.
        if (!isAuthError(error) || error.code !== 'session_expired') throw error
        token = null
      }
    }
    if (token === null) return deps.fetch(input, init)

    // Keep what a replay needs, and no more: a Request with a body must be cloned before it is sent.
    const replayTarget = isRequest && input.body !== null ? input.clone() : target
    // Streams are read once; every other body init can be sent again as it is.
    const canReplay = !(typeof ReadableStream !== 'undefined' && init?.body instanceof ReadableStream) && !(isRequest && input.bodyUsed)

    const response = await deps.fetch(target, init ? { ...init, headers: withToken(token) } : { headers: withToken(token) })
    // A 401 rejects the token only from an allowed origin: a redirect may have ended elsewhere, whose
    // 401 says nothing about it (response.url is serialized, so the prefix test is exact). A Response
    // made by hand has no url: it answers the request itself.
    if (response.status !== 401 || !canReplay || (response.url && !onAllowedOrigin(response.url))) {
      if (DEV && response.status === 401) {
        deps.log?.(canReplay ? '401 from another origin after a redirect: not a refusal of the token' : '401: not replayed, the body cannot be sent twice', {
          url: urlForLog(isRequest ? input.url : String(target)),
        })
      }
      return response
    }

    // Origin and path only: a query may hold secrets.
    const url = DEV ? urlForLog(isRequest ? input.url : String(target)) : ''
    if (DEV) deps.log?.('401: refreshing to replay the request', { url, method: init?.method ?? (isRequest ? input.method : 'GET') })
    const fresh = await abortable(tokenAfterUnauthorized(token), init?.signal ?? (isRequest ? input.signal : undefined))
    if (fresh === null || fresh === token) {
      if (DEV) deps.log?.('401: no new token, the 401 goes to the caller', { url })
      return response
    }
    // Release the discarded answer's connection; some engines never settle this promise, so no await.
    response.body?.cancel().catch(() => undefined)
    const replayed = deps.fetch(replayTarget, { ...init, headers: withToken(fresh) })
    if (DEV) replayed.then((answer) => deps.log?.('401: replayed with a new token', { url, status: answer.status }), () => deps.log?.('401: the replay failed', { url }))
    return replayed
  }
}
