#!/usr/bin/env node
/**
 * `npm run test:model -- --runs 5000 [--max-commands 60] [--seed S --path P --replay-path R]`
 *
 * vitest refuses options it does not know, and its workers do not see this process's argv, so
 * the model test's own options travel as environment variables (MODEL_RUNS, MODEL_SEED, ...).
 * Every other argument goes to vitest as it is.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const own = { runs: 'MODEL_RUNS', 'max-commands': 'MODEL_MAX_COMMANDS', seed: 'MODEL_SEED', path: 'MODEL_PATH', 'replay-path': 'MODEL_REPLAY_PATH' }
// A new seed each time unless one is given (`npm test` runs a fixed one).
const env = { ...process.env, MODEL_RANDOM: '1' }
const rest = []
const args = process.argv.slice(2)
for (let i = 0; i < args.length; i++) {
  const match = /^--([a-z-]+)(?:=(.*))?$/.exec(args[i])
  if (match && match[1] in own) {
    const value = match[2] ?? args[++i]
    if (value === undefined) throw new Error(`--${match[1]} needs a value`)
    env[own[match[1]]] = value
  } else {
    rest.push(args[i])
  }
}
const vitest = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url))
const child = spawn(process.execPath, [vitest, 'run', 'test/model/tabs.model.test.ts', ...rest], { stdio: 'inherit', env })
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
