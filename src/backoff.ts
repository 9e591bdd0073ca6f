export interface BackoffOptions {
  minDelayMs: number
  maxDelayMs: number
}

/**
 * How long to wait before retry number `failures` (1 after the first failure): exponential backoff
 * with full jitter, so tabs and clients that failed together do not retry together. A server's
 * `Retry-After` wins when it asks for longer; nothing goes faster than `minDelayMs`.
 */
export function retryDelay(
  failures: number,
  retryAfterMs: number | undefined,
  { minDelayMs, maxDelayMs }: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(failures, 30))
  const jittered = Math.max(minDelayMs, random() * ceiling)
  return retryAfterMs === undefined ? jittered : Math.max(retryAfterMs, minDelayMs)
}
