/**
 * Whether this is the development build. The package publishes two builds of each entry: the
 * `development` export condition (Vite's dev server, webpack in development mode) picks the one
 * where this is true, with descriptive messages; the default, production build replaces this
 * module with `false`, and every message behind it drops out. Codes, statuses and behaviour are
 * the same in both. A constant, not the NODE_ENV environment variable, which plain browser ESM
 * cannot read.
 */
export const DEV: boolean = true
