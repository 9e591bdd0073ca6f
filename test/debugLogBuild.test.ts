import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { transformSync } from 'esbuild'
import { describe, expect, it, vi } from 'vitest'
import type { Logger } from '../src/index.js'
import { BASE_URL, useMockAuthServer } from './helpers.js'

// The debug log lives in the development build only (dist/dev/, the `development` export
// condition): the production build (dist/, what apps ship) keeps no log call and no log message,
// and ignores `debug` and `logger`. Run after `npm run build`.
const { mock } = useMockAuthServer()
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
type Core = typeof import('../src/index.js')

const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? files(join(dir, name)) : [join(dir, name)]))
const code = (file: string) => /\.c?js$/.test(file)
/** A built file's code without its comments (which may say anything), as a minifier leaves it. */
const withoutComments = (file: string) => transformSync(readFileSync(file, 'utf8'), { loader: 'js', minifyWhitespace: true, legalComments: 'none' }).code

/** A string literal of any kind, template literals whole. */
const LITERAL = /'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g

/** Every static text of 10 characters or more in the first argument of each `log?.(` call of src/ (a template's parts between its `${}`). */
function logMessages(): string[] {
  const messages = new Set<string>()
  for (const file of files(join(root, 'src')).filter((name) => name.endsWith('.ts'))) {
    const source = readFileSync(file, 'utf8')
    for (const call of source.matchAll(/log\?\.\(/g)) {
      const rest = source.slice(call.index + call[0].length)
      if (rest.startsWith('...')) continue // `log?.(...)` in a comment
      // The first argument ends where the details begin, or with the call.
      const end = rest.search(/,\s*(\{|[a-zA-Z]+\(|state &&)|\)\n/)
      for (const [literal] of rest.slice(0, end).matchAll(LITERAL)) {
        for (const part of literal.slice(1, -1).split(/\$\{[^}]*\}/)) if (part.length >= 10) messages.add(part.replace(/\\(.)/g, '$1'))
      }
    }
  }
  return [...messages]
}

describe('the debug log is in the development build only', () => {
  const messages = logMessages()

  it('finds the log messages of src/ to look for', () => {
    expect(messages.length).toBeGreaterThan(40)
    expect(messages).toEqual(expect.arrayContaining(['refresh scheduled', 'tab message received', '401: refreshing to replay the request', 'storage failed; the session goes on in memory', 'oidc: leaving for the provider to log in']))
  })

  it('no file of the production build holds a log message or the console prefix; the development build holds every one', () => {
    const production = files(join(root, 'dist')).filter((file) => code(file) && !relative(join(root, 'dist'), file).startsWith('dev'))
    const development = files(join(root, 'dist/dev')).filter(code)
    expect(production.length).toBeGreaterThan(10)
    const shipped = production.map(withoutComments).join('\n')
    const dev = development.map(withoutComments).join('\n')
    expect(messages.filter((message) => shipped.includes(message))).toEqual([])
    expect(shipped).not.toContain('[tokenkeeper]')
    expect(shipped).not.toMatch(/\blog\?\.\(|\bcreateLog\b|urlForLog|errorForLog/)
    expect(messages.filter((message) => !dev.includes(message))).toEqual([])
    expect(dev).toContain('[tokenkeeper] ')
  })

  it('dist/index.js ignores debug and logger: a login, a refresh and a logout log nothing; dist/dev/index.js logs them', async () => {
    const debug = vi.spyOn(console, 'debug').mockImplementation(() => undefined)
    const run = async (dir: string) => {
      const { createAuthClient } = (await import(/* @vite-ignore */ join(root, dir, 'index.js'))) as Core
      const logger = vi.fn<Logger>()
      const auth = createAuthClient({ baseUrl: BASE_URL, crossTab: false, logger })
      const console = createAuthClient({ baseUrl: BASE_URL, crossTab: false, debug: true })
      for (const client of [auth, console]) {
        await client.login({ username: 'ada', password: 'lovelace' })
        await client.refresh()
        await client.logout()
        client.destroy()
      }
      return logger.mock.calls.map(([message]) => message)
    }
    expect(await run('dist')).toEqual([])
    expect(debug).not.toHaveBeenCalled()
    expect(await run('dist/dev')).toEqual(expect.arrayContaining(['refresh scheduled', 'refresh started', 'refresh done']))
    expect(debug).toHaveBeenCalledWith('[tokenkeeper] refresh done', expect.objectContaining({ rotation: 1 }))
    expect(mock().counts).toMatchObject({ login: 4, refresh: 4, logout: 4 })
  })
})
