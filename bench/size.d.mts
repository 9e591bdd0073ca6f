/** min+gzip bytes of `source` (module text importing what it measures), resolved from `dir`. */
export function minGzip(source: string, dir: string): Promise<number>
/** The whole public surface of a module, default export included: nothing tree-shaken away. */
export function everythingOf(specifier: string): string
