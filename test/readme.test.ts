import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { http, HttpResponse } from 'msw'
import { describe, expect, it, vi } from 'vitest'
import type { AuthClient } from '../src/index.js'
import { useMockAuthServer } from './helpers.js'

const { mock, server } = useMockAuthServer()
const here = dirname(fileURLToPath(import.meta.url))

/**
 * The first ts code block after `heading` in the README, as pasted into test/generated/`name`
 * against the built package (with `tail` appended); returns the file's path.
 */
function pasted(heading: string, name: string, tail = ''): { code: string; file: string } {
  const readme = readFileSync(join(here, '../README.md'), 'utf8')
  const code = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf(heading)))?.[1] ?? ''
  mkdirSync(join(here, 'generated'), { recursive: true })
  const file = join(here, 'generated', name)
  writeFileSync(file, `${code.replace("from 'tokenkeeper'", `from '${join(here, '../dist/index.js')}'`)}${tail}`)
  return { code, file }
}

describe('README', () => {
  it('the quick start works when pasted, against the built package', async () => {
    const { code, file } = pasted('## Quick start', 'quickstart.ts')
    expect(code).toContain("from 'tokenkeeper'")
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined)
    await import(/* @vite-ignore */ file)
    expect(log).toHaveBeenCalledWith({ sub: 'ada' })
    expect(mock().counts).toMatchObject({ login: 1, api: 1, unauthorized: 0, logout: 1 })
  })

  it('the protocol of your own logs in, refreshes and reports a refused login, against a server with its own field names', async () => {
    const { code, file } = pasted('A server with its own field names:', 'legacyProtocol.ts', '\nexport { auth }\n')
    expect(code).toContain('const legacy: Protocol')
    const bodies: unknown[] = []
    const jwt = (sub: string, lifetimeSec: number) => mock().issueAccessToken(sub, lifetimeSec)
    server.use(
      http.post('https://legacy.example.com/api/session', async ({ request }) => {
        const body = (await request.json()) as { user: string; pass: string }
        bodies.push(body)
        if (body.pass !== 'lovelace') return new HttpResponse(null, { status: 401 })
        return HttpResponse.json({ jwt: await jwt(body.user, 300), renewal: 'r1', ttl: 300 })
      }),
      http.post('https://legacy.example.com/api/session/renew', async ({ request }) => {
        bodies.push(await request.json())
        return HttpResponse.json({ jwt: await jwt('ada', 299), renewal: 'r2', ttl: 299 })
      }),
    )
    const { auth } = (await import(/* @vite-ignore */ file)) as { auth: AuthClient }
    await expect(auth.login({ username: 'ada', password: 'wrong' })).rejects.toMatchObject({ code: 'invalid_credentials', status: 401 })
    const session = await auth.login({ username: 'ada', password: 'lovelace' })
    expect(session.claims).toMatchObject({ sub: 'ada' })
    const refreshed = await auth.refresh()
    expect(refreshed.accessToken).not.toBe(session.accessToken)
    expect(bodies).toEqual([{ user: 'ada', pass: 'wrong' }, { user: 'ada', pass: 'lovelace' }, { renewal: 'r1' }])
    expect(await auth.logout()).toEqual({ revoked: false })
    auth.destroy()
  })
})
