import type { Clock } from '../clock.js'
import { DEV } from '../dev.js'
import { AuthError, isAuthError } from '../errors.js'
import type { ProtocolCalls } from './Protocol.js'

/**
 * A protocol's calls as the client relies on them, whoever wrote the protocol: failures are
 * `AuthError`s (anything else thrown becomes `network`, as a refresh's does), `revoke` settles,
 * with a boolean, within `revokeTimeoutMs`, whatever it does, and `afterLogout` never throws.
 * @throws {TypeError} naming the option `protocol` when `connect()` did not give the calls.
 */
export function checkedProtocol(calls: ProtocolCalls | undefined, clock: Clock, revokeTimeoutMs: number): Required<ProtocolCalls> {
  if (typeof calls?.id !== 'string' || ![calls.login, calls.refresh, calls.revoke].every((call) => typeof call === 'function')) {
    throw new TypeError(DEV ? 'createAuthClient: option "protocol": its connect() must return { id, login, refresh, revoke }' : 'option "protocol"')
  }
  const typed = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call()
    } catch (error) {
      throw isAuthError(error) ? error : new AuthError('network', DEV ? 'the protocol failed' : '', { cause: error })
    }
  }
  return {
    id: calls.id,
    refreshesWithoutToken: calls.refreshesWithoutToken === true,
    login: (credentials) => typed(() => calls.login(credentials)),
    refresh: (refreshToken, idToken) => typed(() => calls.refresh(refreshToken, idToken)),
    // Called at once (a throw there is the protocol's bug, and createAuthClient's): it takes the
    // callback from the URL before anything else can.
    resume: () => {
      const resumed = calls.resume?.()
      return resumed && typed(() => resumed)
    },
    // The local logout is done and the revocation settled: a throw here has nothing left to spoil.
    afterLogout: (idToken) => {
      try {
        calls.afterLogout?.(idToken)
      } catch {
        // nothing is left to spoil
      }
    },
    revoke: (accessToken, refreshToken, replaced) =>
      new Promise((resolve) => {
        const timer = clock.setTimeout(() => resolve(false), revokeTimeoutMs)
        typed(() => calls.revoke(accessToken, refreshToken, replaced)).then(
          (revoked) => resolve(revoked === true),
          () => resolve(false),
        ).finally(() => clock.clearTimeout(timer))
      }),
  }
}
