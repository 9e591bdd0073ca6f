// A json-protocol auth server and API that demand DPoP (RFC 9449), on MSW, checking every proof
// with jose the way a real resource server would: signature, typ, htm, htu, iat window, unseen
// jti, ath, the server's nonce, and the token's cnf.jkt binding. What the client sends is judged
// here, never compared as a string.
import { http, HttpResponse } from 'msw'
import { EmbeddedJWK, SignJWT, base64url, calculateJwkThumbprint, jwtVerify, type JWK, type JWTPayload } from 'jose'

export interface DpopServerOptions {
  baseUrl: string
  /** Proofs must carry this server's current nonce (RFC 9449 §8). @default false */
  requireNonce?: boolean
  /** Access tokens live this long. @default 300 */
  lifetimeSec?: number
}

/** A proof as the server accepted it. */
export interface SeenProof {
  header: { typ?: string; alg?: string; jwk?: JWK }
  payload: JWTPayload & { htm?: string; htu?: string; ath?: string; nonce?: string }
  jkt: string
}

type Refusal = { error: string; nonce?: boolean }

export function createDpopServer({ baseUrl, requireNonce = false, lifetimeSec = 300 }: DpopServerOptions) {
  const secret = crypto.getRandomValues(new Uint8Array(32))
  const seenJti = new Set<string>()
  const families = new Map<string, { sub: string; jkt: string; live: boolean }>()
  let nonce = `n-${base64url.encode(crypto.getRandomValues(new Uint8Array(9)))}`
  const stats = { login: 0, refresh: 0, logout: 0, api: 0 }
  /** Every accepted proof, and the reason of every refusal. */
  const proofs: SeenProof[] = []
  const refused: string[] = []
  /** Every session the server issued tokens for (its `sid`), in order, as `login:sid` or `refresh:sid`. */
  const issued: string[] = []
  /** Knobs a test turns to make the server misbehave. */
  const twists = {
    /** The token_type the token endpoint answers. */
    tokenType: 'DPoP',
    /** The `DPoP-Nonce` header value sent with nonce demands (junk, to test the client's check). */
    nonceHeader: undefined as string | undefined,
    /** Demand a nonce this many more times whatever the proof carries (a server that keeps refusing). */
    refuseNonce: 0,
  }

  const sha256 = async (text: string) => base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))))

  /** The proof's key thumbprint when the proof holds for this request, or why not. */
  async function checkProof(request: Request, accessToken?: string): Promise<string | Refusal> {
    const values = request.headers.get('dpop')
    if (!values || values.includes(',')) return { error: 'invalid_dpop_proof' }
    try {
      const { payload, protectedHeader } = await jwtVerify<SeenProof['payload']>(values, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] })
      const jwk = protectedHeader.jwk as JWK
      const url = new URL(request.url)
      if ('d' in jwk) return { error: 'invalid_dpop_proof' }
      if (payload.htm !== request.method || payload.htu !== url.origin + url.pathname) return { error: 'invalid_dpop_proof' }
      if (typeof payload.iat !== 'number' || Math.abs(payload.iat - Date.now() / 1000) > 60) return { error: 'invalid_dpop_proof' }
      if (typeof payload.jti !== 'string' || seenJti.has(payload.jti)) return { error: 'invalid_dpop_proof' }
      seenJti.add(payload.jti)
      if (accessToken !== undefined && payload.ath !== (await sha256(accessToken))) return { error: 'invalid_dpop_proof' }
      if ((requireNonce && payload.nonce !== nonce) || twists.refuseNonce > 0) {
        twists.refuseNonce = Math.max(0, twists.refuseNonce - 1)
        return { error: 'use_dpop_nonce', nonce: true }
      }
      const jkt = await calculateJwkThumbprint(jwk)
      proofs.push({ header: protectedHeader as SeenProof['header'], payload, jkt })
      return jkt
    } catch {
      return { error: 'invalid_dpop_proof' }
    }
  }

  const nonceHeaders = (refusal?: Refusal): Record<string, string> =>
    refusal?.nonce || requireNonce ? { 'dpop-nonce': twists.nonceHeader ?? nonce } : {}
  const tokenError = (refusal: Refusal) => {
    refused.push(refusal.error)
    return HttpResponse.json({ error: refusal.error }, { status: 400, headers: nonceHeaders(refusal) })
  }

  async function issue(sub: string, jkt: string, refreshToken?: string) {
    if (refreshToken) families.delete(refreshToken)
    const next = `rt-${base64url.encode(crypto.getRandomValues(new Uint8Array(12)))}`
    families.set(next, { sub, jkt, live: true })
    issued.push(`${refreshToken ? 'refresh' : 'login'}:${next}`)
    const accessToken = await new SignJWT({ cnf: { jkt }, sid: next })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setIssuedAt()
      .setJti(crypto.randomUUID())
      .setExpirationTime(Math.floor(Date.now() / 1000) + lifetimeSec)
      .sign(secret)
    return HttpResponse.json({ accessToken, refreshToken: next, expiresIn: lifetimeSec, tokenType: twists.tokenType }, { headers: nonceHeaders() })
  }

  /** The access token's claims when it is ours, live, and presented with a proof from its key. */
  async function authorize(request: Request): Promise<JWTPayload | Refusal> {
    const token = /^DPoP (\S+)$/i.exec(request.headers.get('authorization') ?? '')?.[1]
    if (!token) return { error: 'invalid_token' }
    let claims: JWTPayload & { cnf?: { jkt?: string } }
    try {
      claims = (await jwtVerify(token, secret)).payload
    } catch {
      return { error: 'invalid_token' }
    }
    const jkt = await checkProof(request, token)
    if (typeof jkt !== 'string') return jkt
    if (claims.cnf?.jkt !== jkt) return { error: 'invalid_token' }
    return claims
  }

  const handlers = [
    http.post(`${baseUrl}/auth/login`, async ({ request }) => {
      stats.login++
      const jkt = await checkProof(request)
      if (typeof jkt !== 'string') return tokenError(jkt)
      const { username, password } = (await request.json()) as { username?: string; password?: string }
      if (username !== 'ada' || password !== 'lovelace') return HttpResponse.json({ error: 'invalid_credentials' }, { status: 401 })
      return issue(username, jkt)
    }),
    http.post(`${baseUrl}/auth/refresh`, async ({ request }) => {
      stats.refresh++
      const jkt = await checkProof(request)
      if (typeof jkt !== 'string') return tokenError(jkt)
      const { refreshToken } = (await request.json()) as { refreshToken?: string }
      const family = refreshToken ? families.get(refreshToken) : undefined
      // A refresh token is bound to the key of its login (RFC 9449 §5): a thief's proof is refused,
      // without ending the session it stole from.
      if (!family || family.jkt !== jkt) return tokenError({ error: 'invalid_grant' })
      return issue(family.sub, jkt, refreshToken)
    }),
    http.post(`${baseUrl}/auth/logout`, async ({ request }) => {
      stats.logout++
      const claims = await authorize(request)
      const { refreshToken } = (await request.json()) as { refreshToken?: string }
      if (refreshToken) families.delete(refreshToken)
      if ('sid' in claims && typeof claims.sid === 'string') families.delete(claims.sid)
      return new HttpResponse(null, { status: 204 })
    }),
    http.get(`${baseUrl}/api/me`, async ({ request }) => {
      stats.api++
      const claims = await authorize(request)
      if ('error' in claims) {
        refused.push(claims.error as string)
        const challenge = `DPoP algs="ES256", error="${claims.error}"`
        return HttpResponse.json({ error: claims.error }, { status: 401, headers: { 'www-authenticate': challenge, ...nonceHeaders(claims as Refusal) } })
      }
      if (typeof claims.sid !== 'string' || !families.has(claims.sid)) return HttpResponse.json({ error: 'invalid_token' }, { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_token"' } })
      return HttpResponse.json({ sub: claims.sub }, { headers: nonceHeaders() })
    }),
  ]

  return {
    handlers,
    stats,
    proofs,
    refused,
    issued,
    twists,
    /** A new nonce: the proofs made with the old one are refused from now on. */
    rotateNonce() {
      nonce = `n-${base64url.encode(crypto.getRandomValues(new Uint8Array(9)))}`
      return nonce
    },
    get nonce() {
      return nonce
    },
    /** Whether the refresh token still opens a session. */
    live: (refreshToken: string) => families.has(refreshToken),
  }
}
