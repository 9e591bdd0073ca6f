// Bundle cost: min+gzip of an entry with every dependency it pulls in, peers excluded (esbuild, zlib 9).
import { build } from 'esbuild'
import { gzipSync } from 'node:zlib'

const PEERS = ['ky', 'axios', 'react', 'react-dom', 'vue', 'msw']

/** min+gzip bytes of `source` (module text importing what it measures), resolved from `dir`. */
export async function minGzip(source, dir) {
  const result = await build({
    stdin: { contents: source, resolveDir: dir, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    external: PEERS,
    logLevel: 'silent',
  })
  return gzipSync(result.outputFiles[0].contents, { level: 9 }).length
}

/** The whole public surface of a module, default export included: nothing tree-shaken away. */
export const everythingOf = (specifier) => `import * as all from ${JSON.stringify(specifier)}; export default all`
