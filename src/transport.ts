import type { Clock, TimerHandle } from './clock.js'
import { AuthError } from './errors.js'
import { urlForLog, type Logger } from './log.js'
import { DEV } from './dev.js'

/** What the transport needs from the client's resolved options. */
export interface TransportConfig {
  fetch: typeof globalThis.fetch
  clock: Clock
  requestTimeoutMs: number
  credentials: RequestCredentials
  /** The debug log (development build). */
  log?: Logger | undefined
}

/** A server's answer, body parsed when it was JSON.  *
 * @example
 * ```ts
 * const { ok, status, body, retryAfterMs } = await server.post('login', url, body, headers)
 * ```
 */
export interface ServerAnswer {
  /** The HTTP status. */
  status: number
  /** Whether the status is 2xx. */
  ok: boolean
  /** The parsed JSON body, or undefined when the body was empty or not JSON. */
  body: unknown
  /** The wait the server asked for with `Retry-After`, in milliseconds, when it did. */
  retryAfterMs: number | undefined
}

/** `Retry-After` is either seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  const ms = value === null ? NaN : /^\s*\d+\s*$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now
  return ms >= 0 ? ms : ms < 0 ? 0 : undefined
}

/**
 * POSTs to an auth endpoint (GETs, with no body) with a timeout. Rejects with `network` or `timeout`; any HTTP answer
 * resolves, for the protocol to judge. `operation` names the call in error messages.
 */
export async function postToAuthServer(
  config: TransportConfig,
  operation: string,
  url: string,
  body: string | URLSearchParams | undefined,
  headers?: Record<string, string>,
): Promise<ServerAnswer> {
  const controller = new AbortController()
  const method = body === undefined ? 'GET' : 'POST'
  let timer: TimerHandle
  let response: Response
  let text: string
  try {
    ;[response, text] = await Promise.race([
      config
        .fetch(url, {
          method,
          headers: { accept: 'application/json', ...headers },
          body,
          credentials: config.credentials,
          cache: 'no-store',
          signal: controller.signal,
        })
        .then(async (answer) => [answer, await answer.text()] as const),
      // Settle on the timeout ourselves too: a custom fetch may ignore the signal, and must not hang us.
      new Promise<never>((_, reject) => {
        timer = config.clock.setTimeout(() => {
          controller.abort()
          reject(new Error('timeout'))
        }, config.requestTimeoutMs)
      }),
    ])
  } catch (cause) {
    const timedOut = controller.signal.aborted
    if (DEV) config.log?.(`auth server: no answer (${operation})`, { method, url: urlForLog(url), code: timedOut ? 'timeout' : 'network' })
    throw new AuthError(timedOut ? 'timeout' : 'network', DEV ? `${operation}: ${method} ${url.split('?')[0]} ${timedOut ? 'timed out' : 'failed'}` : '', { cause })
  } finally {
    config.clock.clearTimeout(timer)
  }
  if (DEV) config.log?.(`auth server: answered ${response.status} (${operation})`, { method, url: urlForLog(url), status: response.status })
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // empty, or not JSON: the protocol judges by the status
  }
  return {
    status: response.status,
    ok: response.ok,
    body: parsed,
    retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), config.clock.now()),
  }
}
