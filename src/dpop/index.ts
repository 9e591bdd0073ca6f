import { systemClock } from '../clock.js'
import { DEV } from '../dev.js'
import { AuthError } from '../errors.js'
import { defaults, type AuthClientOptions } from '../options.js'
import { jsonProtocol } from '../protocols/json.js'
import type { AuthServer, Protocol, ProtocolCalls } from '../protocols/Protocol.js'
import { resolveAllowedOrigins } from '../resolveOptions.js'
import type { TokenResponse } from '../session.js'
import type { ServerAnswer } from '../transport.js'
import { dpopFetch } from './dpopFetch.js'
import { keyStore } from './keyStore.js'
import { createKey, type DpopKey } from './proof.js'

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
  /**
   * Keys by what names them: a token this tab has used or been issued (a session's tokens keep
   * their key while another tab's login stores a new one), or a key's id, for dpopFetch.
   */
  const known = new Map<string, DpopKey | undefined | Promise<DpopKey | undefined>>()
  const remember = <K extends DpopKey | undefined | Promise<DpopKey | undefined>>(name: string, key: K): K => {
    if (known.size > 32) known.clear() // a few tokens a session; the stored key serves the rest
    known.set(name, key)
    return key
  }
  const keyFor = async (token: string | undefined): Promise<DpopKey | undefined> => token ? (known.get(token) ?? remember(token, keys.load())) : keys.load()
  /** The refresh token of this tab's last refresh: its request goes with that session's key. */
  let refreshing: string | undefined
  let allowed: ReadonlySet<string> | undefined

  const withProofs = (server: AuthServer): AuthServer => ({
    ...server,
    tokenType: 'DPoP',
    async post(operation, url, body, headers) {
      // A login gets a new key, never the last session's. A refresh or revocation goes with the key
      // of the token it sends, else the stored one; without a key (a logout deleted it) it goes
      // without a proof, and is refused.
      const key = operation === 'login' ? await createKey() : await keyFor(/^bearer +(\S+)$/i.exec(headers.authorization ?? '')?.[1] ?? refreshing)
      if (key) remember(key.id, key)
      const send = () => server.post(operation, url, body, key ? { ...headers, dpop: key.id } : headers)
      const asksForNonce = (answer: ServerAnswer): boolean => (answer.body as { error?: unknown } | undefined)?.error === 'use_dpop_nonce'
      let answer = await send()
      // RFC 9449 §8: once more, with the nonce dpopFetch kept from the answer; never a third time.
      if (asksForNonce(answer)) answer = await send()
      // A 4xx would read as wrong credentials, or as an expired session.
      if (asksForNonce(answer)) {
        throw new AuthError('server', DEV ? `${operation}: POST ${url.split('?')[0]} refused the DPoP nonce twice, or sent none usable` : '', { status: answer.status })
      }
      const issued = answer.body as Record<string, string> | undefined
      // Bound to the key only when the server says they are: bearer tokens stay unbound, and are refused below.
      if (answer.ok && /^dpop$/i.test(issued?.token_type ?? issued?.tokenType!)) {
        for (const token of [issued!.access_token ?? issued!.accessToken, issued!.refresh_token ?? issued!.refreshToken]) remember(token!, key)
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
      const landed = async (tokens: TokenResponse): Promise<TokenResponse> => {
        await keys.save((await known.get((await checked(tokens)).accessToken))!)
        return tokens
      }
      return {
        ...calls,
        login: async (credentials) => landed(await calls.login(credentials)),
        resume: calls.resume && (() => calls.resume!()?.then(landed)),
        refresh(refreshToken, idToken) {
          refreshing = refreshToken
          return calls.refresh(refreshToken, idToken).then(checked, async (error) => {
            if ((error as AuthError).code === 'session_expired') await keys.remove(await keyFor(refreshToken))
            throw error
          })
        },
        async revoke(accessToken, refreshToken, replaced) {
          const revoked = await calls.revoke(accessToken, refreshToken, replaced)
          // A replaced session's key was replaced in IndexedDB already by the login that replaced it.
          if (!replaced) await keys.remove(await keyFor(accessToken))
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
      keyFor,
      // createAuthClient checked the options already.
      (origin) => (allowed ??= resolveAllowedOrigins(options.allowedOrigins, options.baseUrl, !!options.allowInsecureHttp)).has(origin),
      () => clock.now(),
    ),
  }
}
