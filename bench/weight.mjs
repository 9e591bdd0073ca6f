// Where the core's bytes are: each source file's share of the minified production bundle of
// createAuthClient (esbuild's metafile; src/dev.ts replaced by DEV = false, as the published
// production build does), largest first, with the bundle's min+gzip total. For deciding what a
// size change should target:
//   node bench/weight.mjs                      createAuthClient alone
//   node bench/weight.mjs "export * from './src/index.ts'"   any module text, resolved from the repo
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const root = fileURLToPath(new URL('..', import.meta.url))
const source = process.argv[2] ?? "export { createAuthClient } from './src/index.ts'"
const production = { name: 'production', setup: (b) => b.onLoad({ filter: /[\\/]src[\\/]dev\.ts$/ }, () => ({ contents: 'export const DEV = false', loader: 'ts' })) }
const result = await build({
  stdin: { contents: source, resolveDir: root, loader: 'ts' },
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  write: false,
  metafile: true,
  external: ['ky', 'react', 'msw'],
  logLevel: 'silent',
  plugins: [production],
})
const bundle = result.outputFiles[0].contents
const inputs = Object.entries(Object.values(result.metafile.outputs)[0].inputs)
  .map(([file, { bytesInOutput }]) => [file, bytesInOutput])
  .filter(([, bytes]) => bytes > 0)
  .sort((a, b) => b[1] - a[1])
for (const [file, bytes] of inputs) console.log(`${String(bytes).padStart(6)} B  ${(100 * bytes / bundle.length).toFixed(1).padStart(4)}%  ${file}`)
console.log(`${String(bundle.length).padStart(6)} B minified, ${gzipSync(bundle, { level: 9 }).length} B min+gzip`)
