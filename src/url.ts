const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

/** Loopback hosts may use plain http: the traffic never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || hostname.endsWith('.localhost')
}

/** Whether a token may travel to this URL: https, or http to a loopback host. */
export function isSecureUrl(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))
}

/** The page's own URL when there is a page (never during SSR or in Node). */
export function pageUrl(): URL | undefined {
  const href = (globalThis as { location?: { href?: unknown } }).location?.href
  if (typeof href !== 'string') return undefined
  try {
    const url = new URL(href)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined
  } catch {
    return undefined
  }
}
