// jwt-decode, counted: the bench bundles tokenkeeper against this to show how often it decodes.
import { InvalidTokenError, jwtDecode as decode } from '../node_modules/jwt-decode/build/esm/index.js'

export { InvalidTokenError }
export function jwtDecode(token, options) {
  globalThis.__jwtDecodes = (globalThis.__jwtDecodes ?? 0) + 1
  return decode(token, options)
}
