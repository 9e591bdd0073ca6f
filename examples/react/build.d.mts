export function buildReactExample(): Promise<void>
