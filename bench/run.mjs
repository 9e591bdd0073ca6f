// npm run bench: what tokenkeeper costs, side by side with the platform and the field.
// Prints a table and writes bench/results.json. `--quick` runs a smaller pass (npm test's smoke
// run) and writes to --out, or nowhere.
import { execFileSync, fork } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodes, loadTokenkeeper } from './load.mjs'
import { everythingOf, minGzip } from './size.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const quick = process.argv.includes('--quick')
const outArg = process.argv.indexOf('--out')
const out = outArg > 0 ? process.argv[outArg + 1] : quick ? undefined : join(here, 'results.json')
const scale = quick
  ? { requests: 200, rounds: 3, attachCalls: 10_000, hours: 0.25, cycles: 300, coalesce: [10, 100] }
  : { requests: 2_000, rounds: 15, attachCalls: 200_000, hours: 24, cycles: 10_000, coalesce: [10, 100, 1_000] }

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
const round = (value, digits = 3) => Number(value.toFixed(digits))
const results = { when: new Date().toISOString(), node: process.version, quick, scale }

// 1. Bundle cost
const entries = { tokenkeeper: 'dist/index.js', 'tokenkeeper/ky': 'dist/ky.js', 'tokenkeeper/react': 'dist/react.js', 'tokenkeeper (development build)': 'dist/dev/index.js' }
const anchors = ['keycloak-js', 'oidc-client-ts', '@supabase/auth-js', '@auth0/auth0-spa-js']
results.size = { entries: {}, anchors: {} }
for (const [name, file] of Object.entries(entries)) results.size.entries[name] = await minGzip(everythingOf(`./${file}`), root)
const createOnly = "export { createAuthClient } from './dist/index.js'"
results.size.createAuthClient = await minGzip(createOnly, root)
results.size.oauth2OnTop = (await minGzip(`${createOnly}\nexport { oauth2 } from './dist/oauth2.js'`, root)) - results.size.createAuthClient
results.size.dpopOnTop = (await minGzip(`${createOnly}\nexport { dpop } from './dist/dpop.js'`, root)) - results.size.createAuthClient
for (const name of anchors) {
  const bytes = await minGzip(everythingOf(name), root)
  results.size.anchors[name] = { bytes, ratio: round(bytes / results.size.entries.tokenkeeper, 2) }
}

// 2. Fetch wrapper overhead, same server, A and B alternating
const { createAuthClient } = await loadTokenkeeper()
const serverProcess = fork(join(here, 'serve.mjs'), { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
const [firstLine] = await once(serverProcess.stdout, 'data')
const server = {
  url: String(firstLine).trim(),
  counts: async () => (await fetch(`${String(firstLine).trim()}/__counts`)).json(),
  close: () => serverProcess.disconnect(),
}
const auth = createAuthClient({ baseUrl: server.url, crossTab: false })
await auth.login({ username: 'bench', password: 'bench' })
const api = `${server.url}/api/data`
const platform = (url) => fetch(url)
// The same request from the platform: undici takes a slower path as soon as fetch gets an init
// (`fetch(url, {})` alone costs ~6% on loopback), so the fair baseline sends the same header.
const bearer = `Bearer ${auth.getSession().accessToken}`
const sameRequest = (url) => fetch(url, { headers: { authorization: bearer } })
const wrapped = (url) => auth.fetch(url)
/** Sequential requests, the arms interleaved request by request so drift on a shared machine hits all alike. */
async function sequential(arms) {
  const totals = arms.map(() => 0)
  for (let i = 0; i < scale.requests; i++) {
    for (let k = 0; k < arms.length; k++) {
      const arm = (k + i) % arms.length // rotate who goes first
      const started = performance.now()
      await (await arms[arm](api)).text()
      totals[arm] += performance.now() - started
    }
  }
  return totals
}
/** Concurrent requests, 50 in flight, the arms alternating in blocks of 100. */
async function concurrent(arms) {
  const totals = arms.map(() => 0)
  const block = 100
  for (let done = 0; done < scale.requests; done += block) {
    for (let k = 0; k < arms.length; k++) {
      const arm = (k + done / block) % arms.length
      let next = 0
      const started = performance.now()
      const worker = async () => {
        while (next++ < block) await (await arms[arm](api)).text()
      }
      await Promise.all(Array.from({ length: 50 }, worker))
      totals[arm] += performance.now() - started
    }
  }
  return totals
}
const arms = [platform, sameRequest, wrapped]
await sequential(arms) // warm up every path and the connection pool
const ratios = { sequential: [], concurrent: [], sequentialBare: [], concurrentBare: [] }
for (let r = 0; r < scale.rounds; r++) {
  for (const [mode, run] of [['sequential', sequential], ['concurrent', concurrent]]) {
    const [bare, same, ours] = await run(arms)
    ratios[mode].push(ours / same)
    ratios[`${mode}Bare`].push(ours / bare)
  }
}
// Attaching the token alone, without the network: the wrapper over a fetch that answers at once.
const canned = () => Promise.resolve(new Response(null, { status: 204 }))
const offline = createAuthClient({ baseUrl: server.url, crossTab: false, fetch: (url, init) => (String(url).endsWith('/auth/login') ? fetch(url, init) : canned()) })
await offline.login({ username: 'bench', password: 'bench' })
const time = async (send) => {
  const started = process.hrtime.bigint()
  for (let i = 0; i < scale.attachCalls; i++) await send(api)
  return Number(process.hrtime.bigint() - started) / scale.attachCalls
}
await time(offline.fetch)
await time(canned)
const decodesBefore = decodes()
const attach = []
for (let r = 0; r < scale.rounds; r++) attach.push((await time(offline.fetch)) - (await time(canned)))
results.overhead = {
  sequentialMedianRatio: round(median(ratios.sequential)),
  concurrentMedianRatio: round(median(ratios.concurrent)),
  sequentialMedianRatioVsBareFetch: round(median(ratios.sequentialBare)),
  concurrentMedianRatioVsBareFetch: round(median(ratios.concurrentBare)),
  attachNsPerCall: Math.round(median(attach)),
  jwtDecodesPerRequest: (decodes() - decodesBefore) / (scale.attachCalls * scale.rounds),
}
auth.destroy()
offline.destroy()

// 3. Refresh coalescing: N requests at once on an expired token
results.coalescing = []
for (const n of scale.coalesce) {
  let skewMs = 0
  const clock = { now: () => Date.now() + skewMs, setTimeout: (run, ms) => setTimeout(run, ms), clearTimeout: (handle) => clearTimeout(handle) }
  const client = createAuthClient({ baseUrl: server.url, crossTab: false, clock })
  await client.login({ username: 'bench', password: 'bench' })
  const burst = async () => {
    const started = performance.now()
    await Promise.all(Array.from({ length: n }, () => client.fetch(api).then((response) => response.text())))
    return performance.now() - started
  }
  await burst()
  skewMs = 2 * 3600 * 1000 // the token expired two hours ago, as after a sleeping laptop
  const refreshesBefore = (await server.counts()).refresh
  // What every request waited: the time until the one shared refresh handed out the new token.
  const started = performance.now()
  const [waited] = await Promise.all([client.getAccessToken().then(() => performance.now() - started), burst()])
  results.coalescing.push({ n, refreshes: (await server.counts()).refresh - refreshesBefore, addedLatencyMs: round(waited, 1) })
  client.destroy()
}
server.close()

// 4 and 5 run in their own processes: fake timers and a fake window must not leak into the rest.
const child = (script, args, flags = []) => JSON.parse(execFileSync(process.execPath, [...flags, join(here, script), ...args.map(String)], { encoding: 'utf8', maxBuffer: 1 << 20 }))
results.longSession = child('longSession.mjs', [scale.hours])
results.memory = child('memory.mjs', [scale.cycles], ['--expose-gc'])
results.dpop = child('dpop.mjs', quick ? [50, 3] : [500, 15])

// Report
const targets = {
  overhead: results.overhead.sequentialMedianRatio <= 1.02 && results.overhead.concurrentMedianRatio <= 1.02,
  coalescing: results.coalescing.every((row) => row.refreshes === 1),
  longSession: results.longSession.unauthorized === 0 && results.longSession.refreshes <= Math.ceil(362 * (scale.hours / 24)),
  memory: results.memory.heapGrowthBytes < 1024 * 1024 && results.memory.timersLeft <= 0 && results.memory.listenersLeft === 0 && results.memory.resourcesLeft <= 0,
  decoding: results.overhead.jwtDecodesPerRequest === 0,
}
results.targetsMet = targets
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`
const rows = [
  ['bundle: createAuthClient from tokenkeeper (min+gzip, with jwt-decode)', kb(results.size.createAuthClient), 'target 6 KB'],
  ['bundle: every export of tokenkeeper', kb(results.size.entries.tokenkeeper), 'target 6.5 KB'],
  ['bundle: every export of tokenkeeper, development build', kb(results.size.entries['tokenkeeper (development build)']), 'not budgeted'],
  ['bundle: tokenkeeper/oauth2 on top of createAuthClient', kb(results.size.oauth2OnTop), '≤ 1 KB'],
  ['bundle: tokenkeeper/dpop on top of createAuthClient', kb(results.size.dpopOnTop), '≤ 1.5 KB'],
  ['bundle: tokenkeeper/ky', kb(results.size.entries['tokenkeeper/ky']), '≤ 1 KB'],
  ['bundle: tokenkeeper/react', kb(results.size.entries['tokenkeeper/react']), '≤ 0.5 KB'],
  ...anchors.map((name) => [`bundle: ${name}`, `${kb(results.size.anchors[name].bytes)} (${results.size.anchors[name].ratio}×)`, 'same method']),
  [`auth.fetch / fetch with the same header, ${scale.requests} sequential (median of ${scale.rounds})`, String(results.overhead.sequentialMedianRatio), '≤ 1.02'],
  [`auth.fetch / fetch with the same header, ${scale.requests} concurrent, 50 at a time`, String(results.overhead.concurrentMedianRatio), '≤ 1.02'],
  ['  the same against bare fetch(url), sequential / concurrent', `${results.overhead.sequentialMedianRatioVsBareFetch} / ${results.overhead.concurrentMedianRatioVsBareFetch}`, 'undici: any init costs ~6%'],
  ['attaching the token, no network', `${results.overhead.attachNsPerCall} ns/call`, ''],
  ['JWT decodes per request', String(results.overhead.jwtDecodesPerRequest), '0'],
  ['DPoP proof per auth.fetch request, no network (Node WebCrypto)', `${results.dpop.proofMicros} µs`, `${results.dpop.plainMicros} µs without`],
  ...results.coalescing.map((row) => [`${row.n} requests on an expired token`, `${row.refreshes} refresh, +${row.addedLatencyMs} ms`, '1 refresh']),
  [`${scale.hours} h of 5-min tokens, 1 request/s: refreshes`, String(results.longSession.refreshes), `≤ ${Math.ceil(362 * (scale.hours / 24))} (ideal ${Math.round(360 * (scale.hours / 24))})`],
  ['  401s seen / requests that waited for a refresh', `${results.longSession.unauthorized} / ${results.longSession.waited}`, '0 / –'],
  [`${results.memory.cycles} create-login-logout-destroy cycles: heap growth`, kb(results.memory.heapGrowthBytes), '< 1 MB'],
  ['  timers / handles / window listeners left', `${results.memory.timersLeft} / ${results.memory.resourcesLeft} / ${results.memory.listenersLeft}`, '0 / 0 / 0'],
]
const width = Math.max(...rows.map((row) => row[0].length))
console.log(`\ntokenkeeper bench${quick ? ' (quick)' : ''}, ${results.node}\n`)
for (const [what, value, target] of rows) console.log(`${what.padEnd(width)}  ${value.padStart(18)}  ${target}`)
console.log(`\ntargets met: ${Object.entries(targets).map(([name, met]) => `${name} ${met ? 'yes' : 'NO'}`).join(', ')}`)
if (out) {
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
  console.log(`written to ${out}`)
}
