import typescript from '@rollup/plugin-typescript'
import { dts } from 'rollup-plugin-dts'
import { readFileSync } from 'node:fs'

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'))
// Dependencies and peers stay imports: the app's bundler resolves and dedupes them.
const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]
const isExternal = (id) => external.some((name) => id === name || id.startsWith(`${name}/`))

const entries = { index: 'src/index.ts', oauth2: 'src/oauth2/index.ts', oidc: 'src/oidc/index.ts', dpop: 'src/dpop/index.ts', ky: 'src/ky/index.ts', axios: 'src/axios/index.ts', react: 'src/react/index.ts', vue: 'src/vue/index.ts', testing: 'src/testing/index.ts' }

const compile = () =>
  typescript({
    tsconfig: './tsconfig.json',
    include: ['src/**/*.ts'],
    compilerOptions: { noEmit: false, declaration: false, types: [] },
  })

/**
 * The production build: src/dev.ts becomes `export const DEV = false`, so every developer message
 * behind `DEV ?` is tree-shaken away. The development build keeps the module as it is.
 */
const production = () => ({
  name: 'tokenkeeper-production',
  load: (id) => (id.replace(/\\/g, '/').endsWith('/src/dev.ts') ? 'export const DEV = false' : null),
})

/** Both builds of every entry, ESM and CJS: production in dist/, development in dist/dev/. */
const builds = [
  ['dist', [production(), compile()]],
  ['dist/dev', [compile()]],
].map(([dir, plugins]) => ({
  input: entries,
  external: isExternal,
  plugins,
  output: [
    { dir, format: 'es', entryFileNames: '[name].js', chunkFileNames: 'shared/[name]-[hash].js' },
    { dir, format: 'cjs', entryFileNames: '[name].cjs', chunkFileNames: 'shared/[name]-[hash].cjs' },
  ],
}))

export default [
  ...builds,
  ...['d.ts', 'd.cts'].map((extension) => ({
    input: entries,
    external: isExternal,
    plugins: [dts({ tsconfig: './tsconfig.json', compilerOptions: { types: [] } })],
    output: { dir: 'dist', format: 'es', entryFileNames: `[name].${extension}`, chunkFileNames: `shared/[name]-[hash].${extension}` },
  })),
]
