// @vitest-environment node
import { build } from 'esbuild'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const peers = ['ky', 'react', 'react-dom', 'msw']

/** min+gzip of a module (its source) with every dependency it pulls in, peers excluded. */
export async function minGzipSize(source: string): Promise<number> {
  const result = await build({
    stdin: { contents: source, resolveDir: root, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    external: peers,
    logLevel: 'silent',
  })
  return gzipSync(result.outputFiles[0]!.contents, { level: 9 }).length
}

const budgets = [
  // The target for the core is 6 KB; it is not met (see README, Size): the modular-core issue moves
  // the oauth2 protocol and the developer messages out of it. This ceiling, just above today's
  // 11,207 B (session identity and ordering, the cross-tab hand-over fixes, bounded storage, the
  // fetch fixes and the split of the client into the session machine, refresh and restore modules
  // added 2.5 KB), stops growth meanwhile.
  ['tokenkeeper', "export * from './dist/index.js'", 11 * 1024],
  ['tokenkeeper/ky', "export * from './dist/ky.js'", 1024],
  ['tokenkeeper/react', "export * from './dist/react.js'", 512],
] as const

/** Entries that add to the core: their budget is what they cost an app that has the core already. */
const onTop = [['tokenkeeper/oauth2', "export { oauth2 } from './dist/oauth2.js'", 1024]] as const
const core = "export { createAuthClient } from './dist/index.js'"

describe('size budgets (min+gzip, with dependencies, peers excluded)', () => {
  it.each(budgets)('%s stays within its budget', async (name, source, budget) => {
    const size = await minGzipSize(source)
    console.log(`${name}: ${size} B of ${budget} B`)
    expect(size).toBeLessThanOrEqual(budget)
  })

  it.each(onTop)('%s on top of createAuthClient stays within its budget', async (name, source, budget) => {
    const size = (await minGzipSize(`${core}\n${source}`)) - (await minGzipSize(core))
    console.log(`${name} on top of the core: ${size} B of ${budget} B`)
    expect(size).toBeLessThanOrEqual(budget)
  })
})
