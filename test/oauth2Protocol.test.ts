import { http, HttpResponse } from 'msw'
import { describe, expect, it } from 'vitest'
import { createAuthClient } from '../src/index.js'
import { oauth2 } from '../src/oauth2/index.js'
import { BASE_URL, serialize, testAuthServer, useMockAuthServer } from './helpers.js'

const { server, mock } = useMockAuthServer()

const endpoints = { token: `${BASE_URL}/oauth/token`, revocation: `${BASE_URL}/oauth/revoke` }
const protocol = (clientId?: string) => oauth2({ clientId, scope: 'openid offline_access', endpoints }).connect(testAuthServer())

function captureForms(url: string, answer: () => Response) {
  const forms: Record<string, string>[] = []
  server.use(
    http.post(url, async ({ request }) => {
      expect(request.headers.get('content-type')).toBe('application/x-www-form-urlencoded')
      forms.push(Object.fromEntries(new URLSearchParams(await request.text())))
      return answer()
    }),
  )
  return forms
}

describe('oauth2Protocol', () => {
  it('logs in with a form-encoded password grant carrying client_id and scope', async () => {
    const forms = captureForms(endpoints.token, () => HttpResponse.json({ access_token: 'a', refresh_token: 'r', expires_in: 60 }))
    await protocol('spa').login({ username: 'ada', password: 'pw' })
    expect(forms).toEqual([{ grant_type: 'password', username: 'ada', password: 'pw', scope: 'openid offline_access', client_id: 'spa' }])
  })

  it('refreshes with grant_type=refresh_token', async () => {
    const forms = captureForms(endpoints.token, () => HttpResponse.json({ access_token: 'a2', expires_in: 60 }))
    await protocol().refresh('rt')
    expect(forms).toEqual([{ grant_type: 'refresh_token', refresh_token: 'rt' }])
  })

  it('maps invalid_grant at login to invalid_credentials, and at refresh to session_expired', async () => {
    server.use(http.post(endpoints.token, () => HttpResponse.json({ error: 'invalid_grant' }, { status: 400 })))
    await expect(protocol().login({ username: 'ada', password: 'x' })).rejects.toMatchObject({ code: 'invalid_credentials' })
    await expect(protocol().refresh('rt')).rejects.toMatchObject({ code: 'session_expired' })
  })

  it('rejects a login without string username and password before any request', async () => {
    await expect(protocol().login({ username: 'ada' })).rejects.toMatchObject({ code: 'invalid_argument' })
  })

  it('expires at once when there is no refresh token to use', async () => {
    await expect(protocol().refresh(undefined)).rejects.toMatchObject({ code: 'session_expired' })
  })

  it('revokes the refresh token, then the access token, with token_type_hint (RFC 7009)', async () => {
    const forms = captureForms(endpoints.revocation, () => new HttpResponse(null, { status: 200 }))
    expect(await protocol('spa').revoke('access-1', 'refresh-1')).toBe(true)
    expect(forms).toEqual([
      { token: 'refresh-1', token_type_hint: 'refresh_token', client_id: 'spa' },
      { token: 'access-1', token_type_hint: 'access_token', client_id: 'spa' },
    ])
  })

  it('reports an unconfirmed revocation when the server answers 503', async () => {
    captureForms(endpoints.revocation, () => new HttpResponse(null, { status: 503 }))
    expect(await protocol().revoke('a', 'r')).toBe(false)
  })

  it.each([
    ['a username that is not a string', { username: 42, password: 'hunter2' }, 'login: oauth2 needs a username and a password'],
    ['a scope that is not a string', { username: 'ada', password: 'hunter2', scope: ['openid', 'profile'] }, 'login: oauth2 scope must be a string'],
  ])('login() with %s rejects with invalid_argument before any request, echoing no value', async (_, credentials, message) => {
    const auth = createAuthClient({ baseUrl: BASE_URL, protocol: oauth2({ clientId: 'spa' }), crossTab: false })
    const error = await auth.login(credentials).catch((error: unknown) => error)
    expect(error).toMatchObject({ name: 'AuthError', code: 'invalid_argument', message })
    expect(serialize(error)).not.toMatch(/hunter2|openid/)
    expect(mock().counts.login).toBe(0)
    auth.destroy()
  })
})
