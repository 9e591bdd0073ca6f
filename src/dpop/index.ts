import { systemClock } from '../clock.js'
import { DEV } from '../dev.js'
import { AuthError } from '../errors.js'
import { defaults, type AuthClientOptions } from '../options.js'
import { createLog, urlForLog } from '../log.js'
import { jsonProtocol } from '../protocols/json.js'
import { parseTokenResponse } from '../protocols/tokenEndpoint.js'
import type { AuthServer, Protocol, ProtocolCalls } from '../protocols/Protocol.js'
import { resolveAllowedOrigins } from '../resolveOptions.js'
import type { TokenResponse } from '../session.js'
import type { ServerAnswer } from '../transport.js'
import { dpopFetch } from './dpopFetch.js'
import { keyStore } from './keyStore.js'
import { createKey, createProof, type DpopKey } from './proof.js'

/**
 * Sender-constrained tokens (DPoP, RFC 9449), for any protocol: give it the options you would give
 * `createAuthClient`. Every token request (login, refresh, revocation) and every `auth.fetch`
 * request to an allowed origin carries a fresh proof signed by a P-256 key that cannot be
 * exported; the tokens go as `Authorization: DPoP`, and a stolen one is refused without the key.
 * A new key at each login, kept in IndexedDB for the origin's tabs and reloads (per page where
 * IndexedDB is missing), deleted at logout and when a refresh is refused for good.
 *
 * @example
 * ```ts
 * import { dpop } from 'tokenkeeper/dpop'
 * const auth = createAuthClient(dpop({ baseUrl: 'https://api.example.com' }))
 * ```
 */
export function dpop(options: AuthClientOptions): AuthClientOptions {
  const clock = options.clock ?? systemClock
  const log = DEV ? createLog(options) : undefined
  const keys = keyStore(options.storageKey ?? defaults.storageKey, clock, options.storageTimeoutMs ?? defaults.storageTimeoutMs)
  /** The latest `DPoP-Nonce` of each origin, for the next proof to it (RFC 9449 §8, §9). */
  const nonces = new Map<string, string>()
  /**
   * The key of each token this tab is sure of: issued to it here, or accepted by a server with a
   * proof from it. A session's tokens keep their key while another tab's login stores a newer one;
   * a token not known here takes the newest stored key, and is known once that key has served it.
   * Only a key known for a session's token is ever deleted: the stored one may be a newer login's.
   */
  const known = new Map<string, DpopKey>()
  /** The key this tab was last sure of: its session's, or an older one's, never a newer session's. */
  let sure: DpopKey | undefined
  const remember = (token: string, key: DpopKey): void => {
    // A few tokens a session: the oldest goes first, never the one just added.
    if (known.size > 32) known.delete(known.keys().next().value!)
    known.set(token, key)
    sure = key
  }
  const keyFor = async (token: string | undefined): Promise<DpopKey | undefined> => (token && known.get(token)) || keys.load()
  /** The refresh token of this tab's last refresh: its request goes with that session's key. */
  let refreshing: string | undefined
  /** Logins started here: only the newest stores its key (the client drops an older one that lands later). */
  let logins = 0
  let allowed: ReadonlySet<string> | undefined

  const withProofs = (server: AuthServer): AuthServer => ({
    ...server,
    tokenType: 'DPoP',
    async post(operation, url, body, headers) {
      const accessToken = /^bearer +(\S+)$/i.exec(headers.authorization ?? '')?.[1]
      // A login gets a new key, never the last session's. A refresh or revocation goes with the key
      // of the token it sends, else the newest stored one; without a key (a logout deleted it) it
      // goes without a proof, and is refused. A revocation goes out even when IndexedDB fails.
      const key =
        operation === 'login' ? await createKey() : await keyFor(accessToken ?? refreshing).catch((error) => (operation === 'logout' ? undefined : Promise.reject(error)))
      const { origin, pathname } = new URL(url)
      const send = async () => {
        const sent = { ...headers }
        if (accessToken) sent.authorization = `DPoP ${accessToken}`
        if (key) sent.dpop = await createProof(key, 'POST', origin + pathname, clock.now(), nonces.get(origin), accessToken)
        return server.post(operation, url, body, sent)
      }
      const asksForNonce = (answer: ServerAnswer): boolean => (answer.body as { error?: unknown } | undefined)?.error === 'use_dpop_nonce'
      if (DEV) log?.(key ? `dpop: a proof for the ${operation} request` : `dpop: no key; the ${operation} request goes without a proof`, { url: urlForLog(url), newKey: operation === 'login' })
      let answer = await send()
      // RFC 9449 §8: once more, with the nonce dpopFetch kept from the answer; never a third time.
      if (DEV && asksForNonce(answer)) log?.('dpop: the auth server asked for a nonce; sending once more', { operation, url: urlForLog(url) })
      if (asksForNonce(answer)) answer = await send()
      // A 4xx would read as wrong credentials, or as an expired session.
      if (asksForNonce(answer)) {
        throw new AuthError('server', DEV ? `${operation}: POST ${url.split('?')[0]} refused the DPoP nonce twice, or sent none usable` : '', { status: answer.status })
      }
      const issued = answer.body as Record<string, string> | undefined
      const tokens = parseTokenResponse(issued)
      // Bound to the key only when the server says they are (a string, "DPoP"): bearer tokens stay
      // unbound, and are refused below.
      const type = issued?.token_type ?? issued?.tokenType
      if (answer.ok && key && typeof tokens !== 'string' && typeof type === 'string' && type.toLowerCase() === 'dpop') {
        remember(tokens.accessToken, key)
        if (tokens.refreshToken) remember(tokens.refreshToken, key)
      }
      return answer
    },
  })

  const protocol: Protocol = {
    connect(server) {
      const calls = (options.protocol ?? jsonProtocol(options.endpoints)).connect(withProofs(server))
      /** Tokens the client will not hold: revoked, so that nobody holds them, then `error`. */
      const refuse = async (tokens: TokenResponse, error: unknown): Promise<never> => {
        await calls.revoke(tokens.accessToken, tokens.refreshToken, true)
        throw error
      }
      /** Tokens the server issued as bearer tokens although asked for DPoP are refused. */
      const checked = async (tokens: TokenResponse): Promise<TokenResponse> => {
        if (DEV && !known.has(tokens.accessToken)) log?.('dpop: bearer tokens refused (token_type is not DPoP); revoking them')
        return known.has(tokens.accessToken) ? tokens : refuse(tokens, new AuthError('invalid_response', DEV ? 'the server answered a DPoP token request with bearer tokens (token_type is not DPoP)' : ''))
      }
      /**
       * A login's key becomes the origin's newest before the client tells the other tabs of the
       * session; a login whose key cannot be stored fails (no other tab, nor a reload, could use it).
       */
      const landed = async (login: number, tokens: TokenResponse): Promise<TokenResponse> => {
        await checked(tokens)
        if (DEV) log?.(login === logins ? "dpop: storing the login's key for the other tabs and reloads" : 'dpop: a newer login was started here; this one keeps its key to itself')
        if (login === logins) await keys.save(known.get(tokens.accessToken)!).catch((error) => refuse(tokens, error))
        return tokens
      }
      return {
        ...calls,
        login: async (credentials) => landed(++logins, await calls.login(credentials)),
        resume: calls.resume && (() => calls.resume!()?.then(landed.bind(null, ++logins))),
        // A refused refresh leaves the key: the client may yet find the session renewed in another
        // tab (one it took over from); the next login pushes it out.
        refresh(refreshToken, idToken) {
          refreshing = refreshToken
          return calls.refresh(refreshToken, idToken).then(checked)
        },
        async revoke(accessToken, refreshToken, replaced) {
          // Its session ended (a logout, a login that failed or lost, a replaced one): so did its key.
          // A logout of tokens rotated in another tab takes the key this tab was last sure of,
          // chosen now: a session told later, whose key it may be sure of by then, is not this one.
          const key = known.get(accessToken!) ?? known.get(refreshToken!) ?? (replaced ? undefined : sure)
          const revoked = await calls.revoke(accessToken, refreshToken, replaced)
          if (DEV) log?.(key ? "dpop: the revoked session's key deleted" : 'dpop: no key known for the revoked tokens; none deleted')
          await keys.remove(key)
          return revoked
        },
      } satisfies ProtocolCalls
    },
  }

  const fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  return {
    ...options,
    endpoints: undefined,
    protocol,
    fetch: dpopFetch(
      fetch,
      nonces,
      keyFor,
      remember,
      // createAuthClient checked the options already.
      (origin) => (allowed ??= resolveAllowedOrigins(options.allowedOrigins, options.baseUrl, !!options.allowInsecureHttp)).has(origin),
      () => clock.now(),
    ),
  }
}
