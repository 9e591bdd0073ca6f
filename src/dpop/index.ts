import { systemClock } from '../clock.js'
import { DEV } from '../dev.js'
import { AuthError } from '../errors.js'
import { defaults, type AuthClientOptions } from '../options.js'
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
  const keys = keyStore(options.storageKey ?? defaults.storageKey, clock, options.storageTimeoutMs ?? defaults.storageTimeoutMs)
  /** The latest `DPoP-Nonce` of each origin, for the next proof to it (RFC 9449 §8, §9). */
  const nonces = new Map<string, string>()
  /**
   * Keys by the tokens this tab has used or been issued: a session's tokens keep their key while
   * another tab's login stores a new one. A token this tab has not seen takes the stored key.
   */
  const known = new Map<string, DpopKey | undefined>()
  const remember = (token: string, key: DpopKey | undefined): DpopKey | undefined => {
    // A few tokens a session: the oldest goes first, never the one just added.
    if (known.size > 32) known.delete(known.keys().next().value!)
    known.set(token, key)
    return key
  }
  // A failed read of the stored key is not remembered: the next call asks again.
  const keyFor = async (token: string | undefined): Promise<DpopKey | undefined> =>
    token && known.has(token) ? known.get(token) : token ? remember(token, await keys.load()) : keys.load()
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
      // of the token it sends, else the stored one; without a key (a logout deleted it) it goes
      // without a proof, and is refused.
      const key = operation === 'login' ? await createKey() : await keyFor(accessToken ?? refreshing)
      const { origin, pathname } = new URL(url)
      const send = async () => {
        const sent = { ...headers }
        if (accessToken) sent.authorization = `DPoP ${accessToken}`
        if (key) sent.dpop = await createProof(key, 'POST', origin + pathname, clock.now(), nonces.get(origin), accessToken)
        return server.post(operation, url, body, sent)
      }
      const asksForNonce = (answer: ServerAnswer): boolean => (answer.body as { error?: unknown } | undefined)?.error === 'use_dpop_nonce'
      let answer = await send()
      // RFC 9449 §8: once more, with the nonce dpopFetch kept from the answer; never a third time.
      if (asksForNonce(answer)) answer = await send()
      // A 4xx would read as wrong credentials, or as an expired session.
      if (asksForNonce(answer)) {
        throw new AuthError('server', DEV ? `${operation}: POST ${url.split('?')[0]} refused the DPoP nonce twice, or sent none usable` : '', { status: answer.status })
      }
      const issued = answer.body as Record<string, string> | undefined
      const tokens = parseTokenResponse(issued)
      // Bound to the key only when the server says they are (a string, "DPoP"): bearer tokens stay
      // unbound, and are refused below.
      if (answer.ok && typeof tokens !== 'string' && (issued!.token_type ?? issued!.tokenType)?.toLowerCase?.() === 'dpop') {
        remember(tokens.accessToken, key)
        remember(tokens.refreshToken!, key)
      }
      return answer
    },
  })

  const protocol: Protocol = {
    connect(server) {
      const calls = (options.protocol ?? jsonProtocol(options.endpoints)).connect(withProofs(server))
      /** Tokens the server issued as bearer tokens although asked for DPoP: revoked, and refused. */
      const checked = async (tokens: TokenResponse): Promise<TokenResponse> => {
        if (known.has(tokens.accessToken)) return tokens
        await calls.revoke(tokens.accessToken, tokens.refreshToken, true)
        throw new AuthError('invalid_response', DEV ? 'the server answered a DPoP token request with bearer tokens (token_type is not DPoP)' : '')
      }
      /** A login's key becomes the origin's before the client tells the other tabs of the session. */
      const landed = async (login: number, tokens: TokenResponse): Promise<TokenResponse> => {
        await checked(tokens)
        if (login === logins) await keys.save(known.get(tokens.accessToken)!)
        return tokens
      }
      return {
        ...calls,
        login: async (credentials) => landed(++logins, await calls.login(credentials)),
        resume: calls.resume && (() => calls.resume!()?.then(landed.bind(null, ++logins))),
        refresh(refreshToken, idToken) {
          refreshing = refreshToken
          return calls.refresh(refreshToken, idToken).then(checked, async (error) => {
            if ((error as AuthError).code === 'session_expired') await keys.remove(keyFor(refreshToken))
            throw error
          })
        },
        async revoke(accessToken, refreshToken, replaced) {
          const revoked = await calls.revoke(accessToken, refreshToken, replaced)
          // A replaced session's key was replaced in IndexedDB already by the login that replaced it.
          if (!replaced) await keys.remove(keyFor(accessToken))
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
      // createAuthClient checked the options already.
      (origin) => (allowed ??= resolveAllowedOrigins(options.allowedOrigins, options.baseUrl, !!options.allowInsecureHttp)).has(origin),
      () => clock.now(),
    ),
  }
}
