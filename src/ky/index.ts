import type { KyInstance } from 'ky'
import type { AuthClient } from '../client.js'

/**
 * Gives a ky instance what `auth.fetch` does: the bearer token on allowed origins only, and on a
 * 401 one shared refresh and one replay. ky's own retries (408, 429, 5xx) and `throwHttpErrors`
 * work as usual on top: ky sees the answer after the replay, so the two never multiply.
 *
 * @example
 * ```ts
 * import ky from 'ky'
 * import { withAuth } from 'tokenkeeper/ky'
 *
 * const api = withAuth(ky.create({ prefix: 'https://api.example.com' }), auth)
 * const me = await api.get('api/me').json()
 * ```
 */
export function withAuth(instance: KyInstance, auth: Pick<AuthClient<unknown>, 'fetch'>): KyInstance {
  return instance.extend({ fetch: auth.fetch })
}
