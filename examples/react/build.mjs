// Bundles the React example (React ships no browser ESM) against the built package in dist/.
import { build } from 'esbuild'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const repo = join(here, '../..')

export async function buildReactExample() {
  await build({
    entryPoints: [join(here, 'App.jsx')],
    outfile: join(here, 'build/app.js'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    minify: true,
    define: { 'process.env.NODE_ENV': '"production"' },
    alias: { tokenkeeper: join(repo, 'dist/index.js'), 'tokenkeeper/react': join(repo, 'dist/react.js'), 'tokenkeeper/dpop': join(repo, 'dist/dpop.js') },
    logLevel: 'warning',
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildReactExample()
