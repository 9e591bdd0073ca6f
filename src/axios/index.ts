import type { AxiosInstance } from 'axios'
import type { AuthClient } from '../client.js'

/** One wrapper per client: axios keeps a fetch adapter for every `fetch` it is given, for good. */
const fetches = new WeakMap<typeof globalThis.fetch, typeof globalThis.fetch>()

/**
 * Gives an axios instance (axios 1.12 or later) what `auth.fetch` does: the bearer token on allowed
 * origins only, and on a 401 one shared refresh and one replay. It switches the instance to axios's
 * fetch adapter with `auth.fetch` as its `fetch`, so axios builds the request (baseURL, params,
 * headers, `withCredentials`, signal, timeout) and `auth.fetch` judges the final URL and follows its
 * redirects. The token never enters axios's config, so an `AxiosError` (its `config`, `request`,
 * `toJSON()`) never holds it, as it would with a request interceptor.
 *
 * The instance is set up in place and returned, unlike ky's (axios instances are mutable, and a
 * copy would lose the interceptors already added): `withAuth(axios, auth)` sets up axios's default
 * instance. Interceptors see the answer after the replay; a 401 that survives it rejects as an
 * `AxiosError` with status 401. An `Authorization` the app sets (or axios's `auth` option) is left
 * as it is. The instance's own `env.fetch` is replaced: give that fetch to `createAuthClient`'s
 * `fetch` option instead. A request that sets its own `adapter` bypasses the token. The fetch
 * adapter's `User-Agent: axios/<version>` is left out (Firefox would send it, so every
 * cross-origin request would need CORS to allow it); a `User-Agent` of the app's own goes out.
 *
 * @example
 * ```ts
 * import axios from 'axios'
 * import { withAuth } from 'tokenkeeper/axios'
 *
 * const api = withAuth(axios.create({ baseURL: 'https://api.example.com' }), auth)
 * const { data: me } = await api.get('/api/me')
 * ```
 */
export function withAuth<Instance extends AxiosInstance>(instance: Instance, auth: Pick<AuthClient<unknown>, 'fetch'>): Instance {
  let fetch = fetches.get(auth.fetch)
  if (!fetch) {
    fetch = (input, init) => {
      // The fetch adapter adds `User-Agent: axios/<version>`, which Firefox sends: every
      // cross-origin request then needs the server's CORS to allow that header, or fails. Axios's
      // default XHR adapter sends none. (A `false` header default would also block the app's own.)
      if ((input as Request).headers?.get('user-agent')?.startsWith('axios/')) (input as Request).headers.delete('user-agent')
      return auth.fetch(input, init)
    }
    fetches.set(auth.fetch, fetch)
  }
  instance.defaults.adapter = 'fetch'
  instance.defaults.env = { ...instance.defaults.env, fetch }
  return instance
}
