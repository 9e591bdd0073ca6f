// The cost of a DPoP proof per request: auth.fetch with dpop() against auth.fetch without, both
// over a fetch that answers at once (no network), interleaved round by round. Node has no
// IndexedDB, so the key is the page's; signing is the same WebCrypto ECDSA P-256 a browser uses.
// Prints JSON: microseconds per request of each arm, and their difference (the proof).
import { build } from 'esbuild'
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const [calls = 500, rounds = 15] = process.argv.slice(2).map(Number)

const outfile = join(here, '.build/tokenkeeper-dpop.mjs')
mkdirSync(dirname(outfile), { recursive: true })
await build({
  stdin: { contents: "export * from './dist/index.js'; export { dpop } from './dist/dpop.js'", resolveDir: join(here, '..'), loader: 'js' },
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'node',
  logLevel: 'silent',
})
const { createAuthClient, dpop } = await import(pathToFileURL(outfile).href)

const base = 'http://127.0.0.1:9'
const json = (body) => new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } })
// A token response for the login, 204 for the API: the tokens themselves are never checked here.
const payload = Buffer.from(JSON.stringify({ sub: 'bench', exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url')
const token = `eyJhbGciOiJIUzI1NiJ9.${payload}.c2lnbmF0dXJl`
const canned = (tokenType) => async (url) =>
  String(url).endsWith('/auth/login') ? json({ accessToken: token, expiresIn: 3600, tokenType }) : new Response(null, { status: 204 })

const plain = createAuthClient({ baseUrl: base, crossTab: false, fetch: canned('Bearer') })
const proven = createAuthClient(dpop({ baseUrl: base, crossTab: false, fetch: canned('DPoP'), storageTimeoutMs: 50 }))
await plain.login({})
await proven.login({})

const api = `${base}/api/data?page=1`
const time = async (auth) => {
  const started = process.hrtime.bigint()
  for (let i = 0; i < calls; i++) await auth.fetch(api)
  return Number(process.hrtime.bigint() - started) / calls / 1000
}
await time(plain)
await time(proven)
const plainRuns = []
const provenRuns = []
for (let round = 0; round < rounds; round++) {
  plainRuns.push(await time(plain))
  provenRuns.push(await time(proven))
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const round = (value) => Number(value.toFixed(1))
plain.destroy()
proven.destroy()
console.log(JSON.stringify({ calls, rounds, plainMicros: round(median(plainRuns)), dpopMicros: round(median(provenRuns)), proofMicros: round(median(provenRuns.map((value, i) => value - plainRuns[i]))) }))
