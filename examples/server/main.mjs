// `npm run demo`: the example server on localhost, until Ctrl-C. Settings from the environment:
// PORT (default 8787), TOKEN_LIFETIME (seconds, default 30), REFRESH_MODE (cookie | body),
// DEMO_SIGNING_KEY (a PKCS#8 ES256 key in PEM; generated at start when absent).
import { startDemoServer } from './server.mjs'

const lifetime = Number(process.env.TOKEN_LIFETIME ?? 30)
const server = await startDemoServer({
  port: Number(process.env.PORT ?? 8787),
  accessTokenLifetimeSec: lifetime,
  refreshMode: process.env.REFRESH_MODE ?? 'cookie',
  signingKeyPem: process.env.DEMO_SIGNING_KEY,
})

console.log(`
tokenkeeper demo
  vanilla app:  ${server.url}/
  React app:    ${server.url}/react/
  users:        ada / lovelace, grace / hopper
  tokens live ${lifetime} s (TOKEN_LIFETIME), so a silent refresh comes every ${Math.min(60, lifetime / 2)} s or so; open two tabs.
Ctrl-C to stop.`)

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    await server.close()
    process.exit(0)
  })
}
