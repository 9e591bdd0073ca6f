// A local HTTP server on 127.0.0.1 for the overhead and coalescing measurements: a json-protocol
// auth server whose tokens are built once (no signing cost in the numbers) and a tiny API.
import { createServer } from 'node:http'

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url')
export const jwt = (lifetimeSec) => {
  const iat = Math.floor(Date.now() / 1000)
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'bench', iat, exp: iat + lifetimeSec })}.c2lnbmF0dXJl`
}

export async function startLocalServer({ lifetimeSec = 3600, refreshDelayMs = 5 } = {}) {
  const counts = { login: 0, refresh: 0, api: 0 }
  const tokens = () => JSON.stringify({ accessToken: jwt(lifetimeSec), refreshToken: `rt-${counts.login + counts.refresh}`, expiresIn: lifetimeSec })
  const server = createServer((request, response) => {
    request.resume()
    request.on('end', () => {
      if (request.url === '/__counts') {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(counts))
      } else if (request.url === '/auth/login') {
        counts.login++
        response.writeHead(200, { 'content-type': 'application/json' }).end(tokens())
      } else if (request.url === '/auth/refresh') {
        counts.refresh++
        setTimeout(() => response.writeHead(200, { 'content-type': 'application/json' }).end(tokens()), refreshDelayMs)
      } else {
        counts.api++
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
      }
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    counts,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) }),
  }
}
