// @vitest-environment node
import { OAuth2Server } from 'oauth2-mock-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuthClient } from '../src/index.js'
import { oauth2 } from '../src/oauth2/index.js'

// A real OAuth2 server from another project, on 127.0.0.1: no mock of ours in between.
describe('oauth2 protocol against oauth2-mock-server', () => {
  const server = new OAuth2Server()
  let baseUrl = ''
  const revocations: string[] = []

  beforeAll(async () => {
    await server.issuer.keys.generate('RS256')
    await server.start(0, '127.0.0.1')
    baseUrl = server.issuer.url!
    // Its revocation route parses no body: read the form from the raw request stream.
    server.service.on('beforeRevoke', (_response, request) => {
      let raw = ''
      request.on('data', (chunk: Buffer) => (raw += chunk.toString()))
      request.on('end', () => revocations.push(String(new URLSearchParams(raw).get('token_type_hint'))))
    })
  })
  afterAll(() => server.stop())

  const client = () =>
    createAuthClient({
      baseUrl,
      protocol: oauth2({ clientId: 'tokenkeeper-spa', endpoints: { token: '/token', revocation: '/revoke' } }),
    })

  it('logs in with the password grant and decodes the signed JWT', async () => {
    const auth = client()
    const session = await auth.login({ username: 'ada', password: 'anything' })
    expect(session.accessToken.split('.')).toHaveLength(3)
    expect(session.claims).toMatchObject({ iss: baseUrl })
    expect(session.expiresAt).toBeGreaterThan(Date.now())
    auth.destroy()
  })

  it('refreshes with the refresh_token grant and gets a new access token', async () => {
    const auth = client()
    const first = await auth.login({ username: 'ada', password: 'anything' })
    const refreshed = await auth.refresh()
    expect(refreshed.accessToken).not.toBe(first.accessToken)
    expect(auth.getSession()).toBe(refreshed)
    auth.destroy()
  })

  it('revokes the refresh token and then the access token at logout', async () => {
    const auth = client()
    await auth.login({ username: 'ada', password: 'anything' })
    revocations.length = 0
    expect(await auth.logout()).toEqual({ revoked: true })
    expect(revocations).toEqual(['refresh_token', 'access_token'])
  })

  it('reports invalid_grant from the real server as session-expired', async () => {
    const auth = client()
    await auth.login({ username: 'ada', password: 'anything' })
    const expired: unknown[] = []
    auth.on('session-expired', (payload) => expired.push(payload))
    server.service.once('beforeResponse', (response) => {
      response.body = { error: 'invalid_grant' }
      response.statusCode = 400
    })
    await expect(auth.refresh()).rejects.toMatchObject({ code: 'session_expired' })
    expect(expired).toHaveLength(1)
    expect(auth.getSession()).toBeNull()
  })
})
