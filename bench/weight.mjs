// Where the core's bytes are: each source file's share of the minified bundle (esbuild's metafile),
// largest first, with the bundle's min+gzip total. For deciding what a size change should target:
//   node bench/weight.mjs
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url))
const result = await build({ entryPoints: [entry], bundle: true, minify: true, format: 'esm', platform: 'browser', write: false, metafile: true, logLevel: 'silent' })
const bundle = result.outputFiles[0].contents
const inputs = Object.entries(Object.values(result.metafile.outputs)[0].inputs)
  .map(([file, { bytesInOutput }]) => [file, bytesInOutput])
  .filter(([, bytes]) => bytes > 0)
  .sort((a, b) => b[1] - a[1])
for (const [file, bytes] of inputs) console.log(`${String(bytes).padStart(6)} B  ${(100 * bytes / bundle.length).toFixed(1).padStart(4)}%  ${file}`)
console.log(`${String(bundle.length).padStart(6)} B minified, ${gzipSync(bundle, { level: 9 }).length} B min+gzip`)
