// Create, log in, log out, destroy, N times (default 10,000); prints heap growth after GC and the
// timers and window listeners left behind. Run with --expose-gc. Cross-tab is on, with a
// BroadcastChannel per client, so its cleanup is measured too.
import { loadTokenkeeper } from './load.mjs'
import { jwt } from './localServer.mjs'

const cycles = Number(process.argv[2] ?? 10_000)
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc')

// A window that counts the listeners registered on it (a pair added twice, or removed when absent,
// changes nothing, as in a browser), so the client attaches what it would in a browser.
const target = new EventTarget()
const registered = new Map()
const registration = (type) => {
  if (!registered.has(type)) registered.set(type, new Set())
  return registered.get(type)
}
const countListeners = () => [...registered.values()].reduce((sum, set) => sum + set.size, 0)
globalThis.window = globalThis
globalThis.addEventListener = (type, listener, options) => {
  registration(type).add(listener)
  target.addEventListener(type, listener, options)
}
globalThis.removeEventListener = (type, listener, options) => {
  registration(type).delete(listener)
  target.removeEventListener(type, listener, options)
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
const before = { heap: process.memoryUsage().heapUsed, timers: timers(), resources: resources(), listeners: countListeners() }
for (let i = 0; i < cycles; i++) await cycle()
await new Promise((resolve) => setTimeout(resolve, 50))
globalThis.gc()
globalThis.gc()
const after = { heap: process.memoryUsage().heapUsed, timers: timers(), resources: resources(), listeners: countListeners() }
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
