// Create, log in, log out, destroy, N times (default 10,000); prints heap growth after GC and the
// timers and window listeners left behind. Run with --expose-gc. Cross-tab is on, with a
// BroadcastChannel per client, so its cleanup is measured too.
import { loadTokenkeeper } from './load.mjs'
import { jwt } from './localServer.mjs'

const cycles = Number(process.argv[2] ?? 10_000)
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc')

// A window with listener counts, so the client attaches what it would in a browser.
const target = new EventTarget()
let listeners = 0
globalThis.window = globalThis
globalThis.addEventListener = (...args) => {
  listeners++
  target.addEventListener(...args)
}
globalThis.removeEventListener = (...args) => {
  listeners--
  target.removeEventListener(...args)
}

const { createAuthClient } = await loadTokenkeeper()
const token = jwt(300)
const answer = (body, status = 200) => Promise.resolve(new Response(body, { status, headers: { 'content-type': 'application/json' } }))
const fetch = (url) =>
  String(url).endsWith('/auth/login') ? answer(JSON.stringify({ accessToken: token, refreshToken: 'rt', expiresIn: 300 })) : answer(null, 204)

const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
// Everything that keeps Node running: timers, sockets, channels (a BroadcastChannel left open shows here).
const resources = () => process.getActiveResourcesInfo().length
async function cycle() {
  const auth = createAuthClient({ baseUrl: 'https://api.example.com', fetch, tabSyncTimeoutMs: 1 })
  await auth.ready
  await auth.login({ username: 'ada', password: 'lovelace' })
  await auth.logout()
  auth.destroy()
}

for (let i = 0; i < 200; i++) await cycle() // warm up: code, JIT and caches
await new Promise((resolve) => setTimeout(resolve, 50))
globalThis.gc()
const before = { heap: process.memoryUsage().heapUsed, timers: timers(), resources: resources(), listeners }
for (let i = 0; i < cycles; i++) await cycle()
await new Promise((resolve) => setTimeout(resolve, 50))
globalThis.gc()
globalThis.gc()
const after = { heap: process.memoryUsage().heapUsed, timers: timers(), resources: resources(), listeners }
process.stdout.write(
  JSON.stringify({
    cycles,
    heapGrowthBytes: after.heap - before.heap,
    timersLeft: after.timers - before.timers,
    resourcesLeft: after.resources - before.resources,
    listenersLeft: after.listeners - before.listeners,
  }),
)
process.exit(0)
