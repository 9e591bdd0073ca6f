/** Just enough JWT (HS256) for a mock server: real base64url segments and a real signature. */

const encoder = new TextEncoder()

function base64url(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

const encodeJson = (value: unknown): string => base64url(encoder.encode(JSON.stringify(value)))

export interface JwtSigner {
  sign(payload: Record<string, unknown>): Promise<string>
  /** The payload when the signature is ours, else undefined. Expiry is the caller's business. */
  verify(token: string): Promise<Record<string, unknown> | undefined>
}

/** A signer with a fresh random key: tokens from one mock server are worthless to another. */
export function createJwtSigner(): JwtSigner {
  const key = crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])
  const signature = async (input: string): Promise<string> =>
    base64url(new Uint8Array(await crypto.subtle.sign('HMAC', await key, encoder.encode(input))))

  return {
    async sign(payload) {
      const input = `${encodeJson({ alg: 'HS256', typ: 'JWT' })}.${encodeJson(payload)}`
      return `${input}.${await signature(input)}`
    },
    async verify(token) {
      const [header, payload, sig] = token.split('.')
      if (header === undefined || payload === undefined || sig === undefined) return undefined
      if ((await signature(`${header}.${payload}`)) !== sig) return undefined
      try {
        const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'))
        const bytes = Uint8Array.from(json, (char) => char.charCodeAt(0))
        return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>
      } catch {
        return undefined
      }
    },
  }
}
