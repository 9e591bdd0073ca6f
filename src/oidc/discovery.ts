import { AuthError } from '../errors.js'
import type { AuthServer } from '../protocols/Protocol.js'
import { DEV } from '../dev.js'

/** A provider's endpoints, as `oidc({ endpoints })` takes them for a provider without discovery. */
export interface ProviderEndpoints {
  /** The authorization endpoint, where the login leaves the page to. */
  authorization?: string
  /** The token endpoint, for the code and refresh-token grants. */
  token?: string
  /** The RFC 7009 revocation endpoint; without it `logout()` revokes nothing. */
  revocation?: string
  /** The RP-initiated logout endpoint (`end_session_endpoint`). */
  endSession?: string
}

/** What the protocol needs to know of its provider. */
export interface Provider {
  authorization: string
  token: string
  revocation: string | undefined
  endSession: string | undefined
  /** RFC 9207: the provider puts `iss` in every authorization response, so one without it is refused. */
  issParameter: boolean
}

const names = { authorization: 'authorization_endpoint', token: 'token_endpoint', revocation: 'revocation_endpoint', endSession: 'end_session_endpoint' } as const

/**
 * The provider's metadata, fetched once from `{issuer}/.well-known/openid-configuration` (OpenID
 * Connect Discovery 1.0 §4) and kept for the page's life; a failed fetch is tried again at the
 * next call. With `authorization` and `token` given, nothing is fetched.
 *
 * The document must name the configured issuer exactly (§4.3: a document for another issuer could
 * send the user's code to another server), its endpoints must be absolute https URLs (http on
 * localhost), and if it lists its PKCE methods, S256 must be one.
 * @throws {TypeError} at once, naming a given endpoint that is not a URL.
 */
export function discover(server: AuthServer, issuer: string, given: ProviderEndpoints): () => Promise<Provider> {
  for (const name in given) {
    if (!(name in names)) throw new TypeError(DEV ? `oidc: option "endpoints.${name}" must be one of ${Object.keys(names)}` : `oidc: option "endpoints.${name}"`)
    server.url(`endpoints.${name}`, given[name as keyof ProviderEndpoints])
  }
  let loading: Promise<Provider> | undefined
  const invalid = (why: string, cause?: unknown): AuthError => new AuthError('invalid_response', DEV ? `discovery: ${why}` : '', { cause })

  async function load(): Promise<Provider> {
    let metadata: Record<string, unknown> = {}
    if (!(given.authorization && given.token)) {
      const answer = await server.get('discovery', `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`)
      if (!answer.ok) throw new AuthError('server', DEV ? `discovery: the provider answered ${answer.status}` : '', { status: answer.status, retryAfterMs: answer.retryAfterMs })
      metadata = (answer.body ?? {}) as Record<string, unknown>
      if (metadata.issuer !== issuer) throw invalid(`the document is for another issuer than ${issuer}`)
      const methods = metadata.code_challenge_methods_supported
      if (Array.isArray(methods) && !methods.includes('S256')) throw invalid('the provider does not take S256 PKCE challenges')
    }
    const endpoint = (name: keyof typeof names): string | undefined => {
      // Given: checked at creation already, a path resolving against baseUrl as every endpoint does.
      if (given[name]) return server.url(`endpoints.${name}`, given[name])
      const value = metadata[names[name]]
      if (value === undefined) return undefined
      try {
        // Absolute: a path in a discovery document would otherwise resolve against baseUrl.
        if (typeof value !== 'string') throw new TypeError('not a string')
        return server.url(names[name], new URL(value).href)
      } catch (cause) {
        throw invalid(`${names[name]} is not an absolute https URL`, cause)
      }
    }
    const authorization = endpoint('authorization')
    const token = endpoint('token')
    if (!authorization || !token) throw invalid('no authorization_endpoint or token_endpoint')
    return {
      authorization,
      token,
      revocation: endpoint('revocation'),
      endSession: endpoint('endSession'),
      issParameter: metadata.authorization_response_iss_parameter_supported === true,
    }
  }

  return () =>
    (loading ??= load().catch((error: unknown) => {
      loading = undefined
      throw error
    }))
}
