const $ = (id) => document.getElementById(id)
const config = await fetch('/api/config').then((response) => response.json())

// The debug log lives in the development build only (an app's bundler picks it through the
// `development` export condition); this page loads that build when the switch is on.
const debug = localStorage.getItem('tokenkeeper-demo.debug') === 'on'
const build = debug ? '/dist/dev' : '/dist'
const { createAuthClient, isAuthError } = await import(`${build}/index.js`)
$('debug-switch').checked = debug
$('debug-switch').addEventListener('change', (event) => {
  localStorage.setItem('tokenkeeper-demo.debug', event.target.checked ? 'on' : 'off')
  location.reload()
})

// Tokens in memory only; the refresh token in an HttpOnly cookie the page never sees.
const options = {
  baseUrl: location.origin,
  refreshTokenInCookie: config.refreshMode === 'cookie',
  // The server's settings: no activity in any tab for IDLE_TIMEOUT ends the session (a warning
  // comes first), and so does the end of the server's own session lifetime.
  idleTimeoutMs: config.idleTimeoutSec * 1000,
  sessionWarningMs: Math.min(30_000, config.idleTimeoutSec * 500),
  maxSessionMs: config.sessionLifetimeSec * 1000,
  // Each line of the debug log into the event log below: it never holds a token or a password.
  ...(debug && { logger: (message, details) => log('debug', details ? `${message} ${JSON.stringify(details)}` : message) }),
}
// With DPOP=1 the server binds the tokens to a key this browser keeps (tokenkeeper/dpop): every
// request carries a proof signed with it, and the log below shows each one as it leaves.
const auth = createAuthClient(config.dpop ? (await import(`${build}/dpop.js`)).dpop({ ...options, fetch: showingProofs }) : options)

/** The fetch beneath dpop(): logs what the DPoP header of each request asserts (never the proof itself, nor the token). */
function showingProofs(input, init) {
  const proof = new Headers(init?.headers).get('dpop')
  if (proof) {
    const decode = (part) => JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')))
    const [header, payload] = proof.split('.').slice(0, 2).map(decode)
    const scheme = new Headers(init?.headers).get('authorization')?.split(' ')[0]
    const claims = [`${payload.htm} ${new URL(payload.htu).pathname}`, `key ${header.jwk.x.slice(0, 8)}…`, payload.ath && 'ath (bound to the token)', payload.nonce && 'server nonce']
    log('dpop', `DPoP header: ${claims.filter(Boolean).join(', ')}${scheme ? `; Authorization: ${scheme} …` : ''}`)
  }
  return fetch(input, init)
}

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
auth.on('session-expired', ({ error, reason }) => {
  log('session-expired', `${reason} (${error.code})`)
  $('idle-warning').hidden = true
  $('login-error').textContent =
    reason === 'idle' ? 'You were logged out after a while with no activity. Please log in again.' : 'Your session expired. Please log in again.'
})

// "Still there?": shown before an idle end; activity in any tab, or the button, puts the end off.
let idleEndsAt
auth.on('session-warning', ({ reason, expiresAt }) => {
  log('session-warning', `${reason}: the session ends in ${Math.round((expiresAt - Date.now()) / 1000)} s`)
  if (reason !== 'idle') return
  idleEndsAt = expiresAt
  $('idle-warning').hidden = false
})
auth.on('session-extended', () => {
  log('session-extended', 'activity put the idle end off')
  $('idle-warning').hidden = true
})
$('stay').addEventListener('click', () => auth.extendSession())
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
  if (!$('idle-warning').hidden) $('idle-countdown').textContent = seconds(idleEndsAt - Date.now())
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
