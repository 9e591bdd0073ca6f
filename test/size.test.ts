// @vitest-environment node
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { minGzip } from '../bench/size.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** min+gzip of a module's source with every dependency it pulls in, peers excluded: the bench's measure. */
const minGzipSize = (source: string): Promise<number> => minGzip(source, root)

// The production build (dist/, the `default` export condition) is what apps ship; the development
// build (dist/dev/) keeps the developer messages and is only reported. The core's target is 6 KB
// for createAuthClient and 6.5 KB for every export; it is not met (README, Size). These ceilings,
// just above today's figures, stop growth meanwhile (raised by 32 B for the session-order fixes of
// issue 14: two sessions ordered by their logins, and births checked and kept; then by 1,400 B for
// issue 15's session policies: idleTimeoutMs, maxSessionMs, their events and the expiry reason).
const budgets = [
  ['createAuthClient from tokenkeeper', "export { createAuthClient } from './dist/index.js'", 11_424],
  ['every export of tokenkeeper', "export * from './dist/index.js'", 12_000],
  // The framework entries import nothing of the core but types, so alone is what they add to it.
  ['tokenkeeper/ky', "export * from './dist/ky.js'", 1024],
  ['tokenkeeper/axios', "export * from './dist/axios.js'", 512],
  ['tokenkeeper/react', "export * from './dist/react.js'", 512],
  ['tokenkeeper/vue', "export * from './dist/vue.js'", 512],
] as const

/** Entries that add to the core: their budget is what they cost an app that has the core already. */
const onTop = [
  ['tokenkeeper/oauth2', "export { oauth2 } from './dist/oauth2.js'", 1024],
  ['tokenkeeper/oidc', "export { oidc } from './dist/oidc.js'", 3072],
  // Target 1.5 KB (1,536 B), not met: the fixes three outside probes asked for (README, Size) took
  // it to 1,750 B. This ceiling, just above, stops growth meanwhile.
  ['tokenkeeper/dpop', "export { dpop } from './dist/dpop.js'", 1760],
] as const
const core = "export { createAuthClient } from './dist/index.js'"

describe('size budgets (min+gzip, with dependencies, peers excluded)', () => {
  it.each(budgets)('%s stays within its budget', async (name, source, budget) => {
    const size = await minGzipSize(source)
    console.log(`${name}: ${size} B of ${budget} B`)
    expect(size).toBeLessThanOrEqual(budget)
  })

  it('the development build of createAuthClient is reported, not budgeted', async () => {
    const production = await minGzipSize(core)
    const development = await minGzipSize(core.replace('./dist/', './dist/dev/'))
    console.log(`createAuthClient, development build: ${development} B, ${development - production} B more than production`)
    expect(development).toBeGreaterThan(production)
  })

  it.each(onTop)('%s on top of createAuthClient stays within its budget', async (name, source, budget) => {
    const size = (await minGzipSize(`${core}\n${source}`)) - (await minGzipSize(core))
    console.log(`${name} on top of the core: ${size} B of ${budget} B`)
    expect(size).toBeLessThanOrEqual(budget)
  })
})
