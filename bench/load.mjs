// The built package, bundled with a counting jwt-decode, for the benchmarks that run it.
import { build } from 'esbuild'
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

export async function loadTokenkeeper() {
  const outfile = join(here, '.build/tokenkeeper.mjs')
  mkdirSync(dirname(outfile), { recursive: true })
  await build({
    entryPoints: [join(here, '../dist/index.js')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    alias: { 'jwt-decode': join(here, 'countingJwtDecode.mjs') },
    logLevel: 'silent',
  })
  return import(pathToFileURL(outfile).href)
}

export const decodes = () => globalThis.__jwtDecodes ?? 0
