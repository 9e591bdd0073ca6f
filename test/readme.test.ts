import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, vi } from 'vitest'
import { useMockAuthServer } from './helpers.js'

const { mock } = useMockAuthServer()
const here = dirname(fileURLToPath(import.meta.url))

describe('README', () => {
  it('the quick start works when pasted, against the built package', async () => {
    const readme = readFileSync(join(here, '../README.md'), 'utf8')
    const section = readme.slice(readme.indexOf('## Quick start'))
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
    expect(code).toContain("from 'tokenkeeper'")
    mkdirSync(join(here, 'generated'), { recursive: true })
    const file = join(here, 'generated/quickstart.ts')
    writeFileSync(file, code!.replace("from 'tokenkeeper'", `from '${join(here, '../dist/index.js')}'`))
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined)
    await import(/* @vite-ignore */ file)
    expect(log).toHaveBeenCalledWith({ sub: 'ada' })
    expect(mock().counts).toMatchObject({ login: 1, api: 1, unauthorized: 0, logout: 1 })
  })
})
