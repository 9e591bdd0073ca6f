import { existsSync } from 'node:fs'
import { describe } from 'vitest'
import { chromiumEngine } from './chromium.js'
import { firefoxEngine } from './firefox.js'
import type { Engine } from './types.js'

export type * from './types.js'

/** Every engine the browser suites run in. */
export const engines: readonly Engine[] = [chromiumEngine, firefoxEngine]

const missing = engines.filter((engine) => !existsSync(engine.executablePath))
if (missing.length) {
  const lines = missing.flatMap((engine) => [
    `! The real-browser tests did NOT run in ${engine.name}: nothing at ${engine.executablePath}.`,
    `! Install it with:  ${engine.install}`,
  ])
  const message = `\n${'!'.repeat(78)}\n${lines.join('\n')}\n! (.ci/run installs them, and fails when one is missing.)\n${'!'.repeat(78)}\n`
  if (process.env.CI) throw new Error(message)
  console.warn(message)
}

/**
 * Declares the suite once per engine ("<title> in Chromium", "<title> in Firefox"); an engine that
 * is not installed is skipped with the warning above, or fails the run under CI.
 */
export function describeInEngines(title: string, suite: (engine: Engine) => void): void {
  for (const engine of engines) {
    describe.skipIf(missing.includes(engine))(`${title} in ${engine.name}`, () => suite(engine))
  }
}
