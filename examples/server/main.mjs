// `npm run demo`: the example server on localhost, until Ctrl-C. Settings from the environment, each
// checked before the server starts (a bad one stops it with a message naming it):
//   PORT (default 8787), TOKEN_LIFETIME (seconds, default 30), SESSION_LIFETIME (seconds, default
//   7 days), REFRESH_MODE (cookie | body), DEMO_SIGNING_KEY (a PKCS#8 EC P-256 key in PEM;
//   generated at start when absent), OIDC_PORT (the OpenID Provider's port, default 8788),
//   DPOP=1 (tokens bound to a key by DPoP proofs, RFC 9449; the pages then need a DPoP client),
//   DPOP_NONCE=1 (with DPOP=1: proofs must carry a nonce the server gave), IDLE_TIMEOUT (seconds
//   with no activity before the pages end the session, default 120).
import { startDemoProvider } from '../oidc-provider/provider.mjs'
import { startDemoServer } from './server.mjs'

/** An environment variable as a whole number, or undefined when unset; anything else is refused. */
function whole(name) {
  const value = process.env[name]
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value.trim())) throw new TypeError(`${name} must be a whole number, got ${JSON.stringify(value.slice(0, 40))}`)
  return Number(value)
}

/** An environment variable as a switch: 1 on, 0 off, undefined when unset; anything else is refused. */
function flag(name) {
  const value = process.env[name]?.trim()
  if (value === undefined) return undefined
  if (value !== '1' && value !== '0') throw new TypeError(`${name} must be 1 or 0, got ${JSON.stringify(value.slice(0, 40))}`)
  return value === '1'
}

let server
let provider
let oidcPort
try {
  oidcPort = whole('OIDC_PORT') ?? 8788
  server = await startDemoServer({
    port: whole('PORT') ?? 8787,
    accessTokenLifetimeSec: whole('TOKEN_LIFETIME'),
    sessionLifetimeSec: whole('SESSION_LIFETIME'),
    idleTimeoutSec: whole('IDLE_TIMEOUT'),
    refreshMode: process.env.REFRESH_MODE,
    signingKeyPem: process.env.DEMO_SIGNING_KEY,
    dpop: flag('DPOP'),
    dpopNonce: flag('DPOP_NONCE'),
    // Asked at each request: the provider starts next, once this server's origin is known.
    oidcIssuer: () => provider?.issuer,
  })
} catch (error) {
  // Named as the environment names them: TOKEN_LIFETIME for accessTokenLifetimeSec, and so on.
  const variables = { port: 'PORT', accessTokenLifetimeSec: 'TOKEN_LIFETIME', sessionLifetimeSec: 'SESSION_LIFETIME', idleTimeoutSec: 'IDLE_TIMEOUT', refreshMode: 'REFRESH_MODE', dpop: 'DPOP', dpopNonce: 'DPOP_NONCE' }
  console.error(`demo server: not started: ${error.message.replace(/^\w+/, (name) => variables[name] ?? name)}`)
  process.exit(1)
}
const lifetime = whole('TOKEN_LIFETIME') ?? 30
const dpop = !flag('DPOP') ? 'off (DPOP=1 binds tokens to a key)' : flag('DPOP_NONCE') ? 'on, with server nonces (DPOP_NONCE=1)' : 'on (DPOP=1)'

// The OpenID Provider for the /oidc/ page, on its own port: another origin, as a real one would be.
try {
  provider = await startDemoProvider({ port: oidcPort, appOrigin: server.url, accessTokenLifetimeSec: lifetime })
} catch (error) {
  console.error(`demo provider: not started: ${error.code === 'EADDRINUSE' ? 'OIDC_PORT is in use' : error.message.replace(/^port\b/, 'OIDC_PORT')}`)
  await server.close()
  process.exit(1)
}

console.log(`
tokenkeeper demo
  vanilla app:  ${server.url}/
  React app:    ${server.url}/react/
  OpenID app:   ${server.url}/oidc/  (logs in at the OpenID Provider ${provider.issuer})
  users:        ada / lovelace, grace / hopper
  DPoP:         ${dpop}
  tokens live ${lifetime} s (TOKEN_LIFETIME), so a silent refresh comes every ${Math.round(Math.min(60, lifetime / 2))} s or so; open two tabs.
  idle timeout: ${whole('IDLE_TIMEOUT') ?? 120} s (IDLE_TIMEOUT) with no activity in any tab ends the session; a warning comes first.
Ctrl-C to stop.`)

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    await Promise.all([server.close(), provider.close()])
    process.exit(0)
  })
}
