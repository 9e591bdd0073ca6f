// @vitest-environment node
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const entries = ['src/index.ts', 'src/ky/index.ts', 'src/axios/index.ts', 'src/react/index.ts', 'src/vue/index.ts', 'src/testing/index.ts']

describe('API documentation', () => {
  const program = ts.createProgram(
    entries.map((entry) => join(root, entry)),
    { strict: true, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, target: ts.ScriptTarget.ES2022, skipLibCheck: true },
  )
  const checker = program.getTypeChecker()

  it.each(entries)('every export of %s has JSDoc with an @example', (entry) => {
    const source = program.getSourceFile(join(root, entry))!
    const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(source)!)
    expect(exports.length).toBeGreaterThan(0)
    const missing = exports
      .map((symbol) => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol))
      .filter((symbol) => !symbol.getJsDocTags(checker).some((tag) => tag.name === 'example'))
      .map((symbol) => symbol.getName())
    expect(missing).toEqual([])
  })
})
