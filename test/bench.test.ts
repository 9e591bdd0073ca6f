// @vitest-environment node
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

// Not a timed test: a quick pass of `npm run bench`, so the benchmark cannot rot unnoticed.
describe('bench smoke run', () => {
  it('runs every section of the bench and writes its results', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'tokenkeeper-bench-')), 'results.json')
    const printed = execFileSync(process.execPath, [join(root, 'bench/run.mjs'), '--quick', '--out', out], { encoding: 'utf8', cwd: root })
    expect(printed).toContain('targets met:')
    const results = JSON.parse(readFileSync(out, 'utf8'))
    expect(Object.keys(results.size.anchors)).toEqual(['keycloak-js', 'oidc-client-ts', '@supabase/auth-js', '@auth0/auth0-spa-js'])
    expect(results.overhead.jwtDecodesPerRequest).toBe(0)
    expect(results.coalescing.map((row: { refreshes: number }) => row.refreshes)).toEqual([1, 1])
    expect(results.longSession.unauthorized).toBe(0)
    expect(results.memory).toMatchObject({ timersLeft: 0, listenersLeft: 0 })
    expect(results.dpop.dpopMicros).toBeGreaterThan(0)
  }, 120_000)
})
