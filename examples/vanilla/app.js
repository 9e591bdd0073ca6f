import { createAuthClient, isAuthError } from '/dist/index.js'

const $ = (id) => document.getElementById(id)
const config = await fetch('/api/config').then((response) => response.json())

// Tokens in memory only; the refresh token in an HttpOnly cookie the page never sees.
const auth = createAuthClient({
  baseUrl: location.origin,
  refreshTokenInCookie: config.refreshMode === 'cookie',
})

function log(type, detail = '') {
  const item = document.createElement('li')
  item.dataset.type = type
  item.textContent = `${new Date().toLocaleTimeString()}  ${type}${detail ? `  ${detail}` : ''}`
  $('event-log').prepend(item)
}

// Events never carry a token except a Session, and we log no token from it.
auth.on('login', (session) => log('login', session.claims.sub))
auth.on('refresh', () => log('refresh', 'a silent refresh brought a new access token'))
auth.on('logout', ({ reason }) => log('logout', reason === 'other-tab' ? 'in another tab' : ''))
auth.on('session-expired', ({ error }) => {
  log('session-expired', error.code)
  $('login-error').textContent = 'Your session expired. Please log in again.'
})
auth.on('error', (error) => log('error', `${error.code}: the client will retry`))
auth.on('change', render)

function render() {
  const session = auth.getSession()
  $('login-panel').hidden = Boolean(session)
  $('session-panel').hidden = !session
  if (!session) return
  $('user-name').textContent = session.claims.name ?? session.claims.sub
  $('claims').textContent = JSON.stringify(session.claims, null, 2)
}

/** When the client will refresh: a margin (60 s by default) before expiry, at most half the lifetime. */
function nextRefreshAt(session) {
  const { iat, exp } = session.claims
  const lifetime = typeof iat === 'number' && typeof exp === 'number' ? (exp - iat) * 1000 : 60_000
  return session.expiresAt - Math.min(60_000, lifetime / 2)
}

setInterval(() => {
  const session = auth.getSession()
  if (!session) return
  const seconds = (ms) => `${Math.max(0, Math.ceil(ms / 1000))} s`
  $('refresh-countdown').textContent = seconds(nextRefreshAt(session) - Date.now())
  $('expiry-countdown').textContent = seconds(session.expiresAt - Date.now())
}, 250)

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = new FormData(event.target)
  $('login-error').textContent = ''
  try {
    await auth.login({ username: form.get('username'), password: form.get('password') })
    event.target.reset()
  } catch (error) {
    $('login-error').textContent =
      isAuthError(error) && error.code === 'invalid_credentials' ? 'Wrong username or password.' : `Login failed (${error.code ?? error})`
  }
})

$('call-api').addEventListener('click', async () => {
  const response = await auth.fetch('/api/me')
  const body = await response.json()
  $('api-result').textContent = `${response.status} ${JSON.stringify(body)}`
  log('api', `GET /api/me answered ${response.status}`)
})

$('logout').addEventListener('click', async () => {
  const { revoked } = await auth.logout()
  log('revocation', revoked ? 'confirmed by the server' : 'not confirmed (server unreachable)')
})

await auth.ready
render()
document.body.dataset.ready = 'true'
