/**
 * A DPoP key, as IndexedDB keeps it.
 *
 * @example
 * ```ts
 * const { id, jwk } = await createKey() // jwk: { kty: 'EC', crv: 'P-256', x, y }
 * ```
 */
export interface DpopKey {
  /** Tells keys apart (the public key's x coordinate), so a tab deletes only the key it used. */
  id: string
  /** Signs the proofs; not extractable: it cannot leave WebCrypto, even for script in the page. */
  privateKey: CryptoKey
  /** The public key, as every proof carries it. */
  jwk: JsonWebKey
}

const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
const encoder = new TextEncoder()

const base64url = (bytes: ArrayBuffer | Uint8Array): string =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
const encodeJson = (value: object): string => base64url(encoder.encode(JSON.stringify(value)))

/** A new P-256 key pair whose private key is not extractable (RFC 9449 §2: the key must stay in the browser). */
export async function createKey(): Promise<DpopKey> {
  const { privateKey, publicKey } = await crypto.subtle.generateKey(ECDSA, false, ['sign'])
  // The public half only: no `d`, and none of WebCrypto's key_ops/ext members.
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', publicKey)
  return { id: x!, privateKey, jwk: { kty, crv, x, y } }
}

/**
 * A DPoP proof (RFC 9449 §4.2) for one request to `htu`, the URL without query and fragment;
 * `ath` the hash of the access token it goes with (resource requests), `nonce` the server's latest.
 */
export async function createProof(key: DpopKey, method: string, htu: string, nowMs: number, nonce?: string, accessToken?: string): Promise<string> {
  const ath = accessToken && base64url(await crypto.subtle.digest('SHA-256', encoder.encode(accessToken)))
  // JSON leaves out the undefined ones.
  const input = `${encodeJson({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk })}.${encodeJson({
    jti: crypto.randomUUID(),
    htm: method,
    htu,
    iat: Math.floor(nowMs / 1000),
    nonce,
    ath,
  })}`
  // WebCrypto signs ECDSA as r‖s, the form JWS wants (RFC 7518 §3.4).
  return `${input}.${base64url(await crypto.subtle.sign(ECDSA, key.privateKey, encoder.encode(input)))}`
}
