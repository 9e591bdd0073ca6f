// 24 simulated hours of 5-minute tokens with a request every second, on fake timers, against the
// MSW mock auth server. Prints one JSON line. Argument: simulated hours (default 24).
import FakeTimers from '@sinonjs/fake-timers'
import { setupServer } from 'msw/node'
import { createMockAuthServer } from '../dist/testing.js'
import { loadTokenkeeper } from './load.mjs'

const hours = Number(process.argv[2] ?? 24)
const { createAuthClient, defaults } = await loadTokenkeeper()
const clock = FakeTimers.install({ toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'], now: Date.UTC(2026, 0, 1) })
const mock = createMockAuthServer({ baseUrl: 'https://api.example.com', accessTokenLifetimeSec: 300 })
const server = setupServer(...mock.handlers)
server.listen({ onUnhandledRequest: 'error' })

const auth = createAuthClient({ baseUrl: 'https://api.example.com', crossTab: false })
await auth.login({ username: 'ada', password: 'lovelace' })
let requests = 0
let unauthorized = 0
let waited = 0
const started = performance.now()
for (let second = 0; second < hours * 3600; second++) {
  await clock.tickAsync(1_000)
  const session = auth.getSession()
  // A request made when the token has less than minTokenValidityMs left waits for a refresh.
  if (!session || session.expiresAt - Date.now() < defaults.minTokenValidityMs) waited++
  const response = await auth.fetch('https://api.example.com/api/me')
  requests++
  if (response.status === 401) unauthorized++
}
auth.destroy()
server.close()
clock.uninstall()
process.stdout.write(
  JSON.stringify({ hours, requests, refreshes: mock.counts.refresh, unauthorized, waited, serverUnauthorized: mock.counts.unauthorized, seconds: (performance.now() - started) / 1000 }),
)
