import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { http, HttpResponse } from 'msw'
import { describe, expect, it } from 'vitest'
import { BASE_URL, useMockAuthServer } from './helpers.js'

// The published builds: production in dist/ (the `default` export condition), development in
// dist/dev/ (the `development` condition). The rest of the suite runs the sources, which are the
// development build; the real-browser suites load dist/index.js, the production one.
const { server } = useMockAuthServer()
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
type Core = typeof import('../src/index.js')
type OAuth2 = typeof import('../src/oauth2/index.js')
type Oidc = typeof import('../src/oidc/index.js')
const load = async (dir: string) => ({
  core: (await import(/* @vite-ignore */ join(root, dir, 'index.js'))) as Core,
  oauth2: ((await import(/* @vite-ignore */ join(root, dir, 'oauth2.js'))) as OAuth2).oauth2,
  oidc: ((await import(/* @vite-ignore */ join(root, dir, 'oidc.js'))) as Oidc).oidc,
})
const ISSUER = 'https://sso.example.com/realms/app'
const oidcOptions = { issuer: ISSUER, clientId: 'spa', redirectUri: 'https://app.example.com/callback' }

/** Ways to fail, each run in a build: what it throws or rejects with. */
const failures: [string, (build: Awaited<ReturnType<typeof load>>) => unknown][] = [
  ['a plain-http baseUrl', ({ core }) => core.createAuthClient({ baseUrl: 'http://api.example.com' })],
  ['a negative refreshMarginMs', ({ core }) => core.createAuthClient({ baseUrl: BASE_URL, refreshMarginMs: -1 })],
  ['the protocol as a string', ({ core }) => core.createAuthClient({ baseUrl: BASE_URL, protocol: 'oauth2' as never })],
  ['an unknown endpoint', ({ core }) => core.createAuthClient({ baseUrl: BASE_URL, endpoints: { signup: '/x' } as never })],
  ['a bad webStorage kind', ({ core }) => core.webStorage('bogus' as never)],
  ['a bad oauth2 clientId', ({ oauth2 }) => oauth2({ clientId: 5 as never })],
  ['a wrong password', ({ core }) => core.createAuthClient({ baseUrl: BASE_URL, crossTab: false }).login({ username: 'ada', password: 'nope' })],
  ['credentials that are not an object', ({ core }) => core.createAuthClient({ baseUrl: BASE_URL, crossTab: false }).login('ada' as never)],
  ['a refresh with no session', ({ core }) => core.createAuthClient({ baseUrl: BASE_URL, crossTab: false }).refresh()],
  ['a login after destroy()', ({ core }) => {
    const auth = core.createAuthClient({ baseUrl: BASE_URL, crossTab: false })
    auth.destroy()
    return auth.login({ username: 'ada', password: 'lovelace' })
  }],
  ['a login answered 503 with Retry-After', ({ core }) => {
    server.use(http.post(`${BASE_URL}/auth/login`, () => new HttpResponse(null, { status: 503, headers: { 'retry-after': '7' } })))
    return core.createAuthClient({ baseUrl: BASE_URL, crossTab: false }).login({ username: 'ada', password: 'lovelace' })
  }],
  ['a login that never reaches the server', ({ core }) => {
    server.use(http.post(`${BASE_URL}/auth/login`, () => HttpResponse.error()))
    return core.createAuthClient({ baseUrl: BASE_URL, crossTab: false }).login({ username: 'ada', password: 'lovelace' })
  }],
  ['a 2xx login without tokens', ({ core }) => {
    server.use(http.post(`${BASE_URL}/auth/login`, () => HttpResponse.json({ token: 'x' })))
    return core.createAuthClient({ baseUrl: BASE_URL, crossTab: false }).login({ username: 'ada', password: 'lovelace' })
  }],
  ['an oauth2 login without a username', ({ core, oauth2 }) => core.createAuthClient({ baseUrl: BASE_URL, crossTab: false, protocol: oauth2() }).login({ password: 'x' })],
  ['an oidc option the protocol sets itself', ({ oidc }) => oidc({ ...oidcOptions, authorizationParams: { state: 'mine' } })],
  ['an oidc login whose discovery document names another issuer', ({ core, oidc }) => {
    server.use(http.get(`${ISSUER}/.well-known/openid-configuration`, () => HttpResponse.json({ issuer: 'https://evil.example.com' })))
    return core.createAuthClient({ baseUrl: BASE_URL, crossTab: false, protocol: oidc(oidcOptions) }).login()
  }],
]

async function outcome(run: () => unknown) {
  try {
    await run()
  } catch (error) {
    const { name, message, code, status, retryAfterMs } = error as Error & { code?: string; status?: number; retryAfterMs?: number }
    return { name, message, code, status, retryAfterMs }
  }
  throw new Error('expected a failure')
}

describe('the production and development builds', () => {
  it.each(failures)('%s: the same error name, code, status and retryAfterMs in both; a short message in production', async (_, run) => {
    const production = await outcome(async () => run(await load('dist')))
    const development = await outcome(async () => run(await load('dist/dev')))
    const { message: short, ...same } = production
    const { message: long, ...expected } = development
    expect(same).toEqual(expected)
    expect(long).not.toBe(short)
    if (production.name === 'TypeError') expect(short).toMatch(/^\S.{0,40}: see tokenkeeper's README/)
    else expect(short).toBe(`${production.code}: see tokenkeeper's README, Errors`)
  })

  it('the production TypeError for an option still names it', async () => {
    const { core } = await load('dist')
    expect(() => core.createAuthClient({ baseUrl: BASE_URL, retryAttempts: 0 })).toThrow('option "retryAttempts"')
  })

  it('no file of either build mentions process.env, which plain browser ESM does not have', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? files(join(dir, name)) : [join(dir, name)]))
    const offenders = files(join(root, 'dist')).filter((file) => readFileSync(file, 'utf8').includes('process.env'))
    expect(offenders).toEqual([])
  })

  it('every entry maps the development condition to its dist/dev build, ahead of the default', () => {
    const { exports } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, Record<string, string>>> }
    for (const [entry, conditions] of Object.entries(exports)) {
      if (entry === './package.json') continue
      for (const kind of ['import', 'require'] as const) {
        const map = conditions[kind]!
        expect(Object.keys(map), `${entry} ${kind}`).toEqual(['types', 'development', 'default'])
        expect(map.development, `${entry} ${kind}`).toBe(map.default!.replace('./dist/', './dist/dev/'))
        expect(statSync(join(root, map.development!)).isFile()).toBe(true)
      }
    }
  })
})
