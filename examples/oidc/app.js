import { createAuthClient } from '/dist/index.js'
import { oidc } from '/dist/oidc.js'

const $ = (id) => document.getElementById(id)
const LOG_KEY = 'tokenkeeper-demo.oidc-log'

// The event log outlives the page: a login leaves it for the provider and comes back to a new one.
// Only times, event names and codes go in it, never a token.
const readLog = () => {
  try {
    return JSON.parse(sessionStorage.getItem(LOG_KEY) ?? '[]')
  } catch {
    return []
  }
}
function show({ at, type, detail }) {
  const item = document.createElement('li')
  item.dataset.type = type
  item.textContent = `${new Date(at).toLocaleTimeString()}  ${type}${detail ? `  ${detail}` : ''}`
  $('event-log').prepend(item)
}
function log(type, detail = '') {
  const entry = { at: Date.now(), type, detail }
  sessionStorage.setItem(LOG_KEY, JSON.stringify([...readLog(), entry].slice(-50)))
  show(entry)
}
readLog().forEach(show)
$('clear-log').addEventListener('click', () => {
  sessionStorage.removeItem(LOG_KEY)
  $('event-log').replaceChildren()
})

const { oidcIssuer } = await fetch('/api/config').then((response) => response.json())
if (oidcIssuer) await run(oidcIssuer)
else $('no-provider').hidden = false
document.body.dataset.ready = 'true'

async function run(oidcIssuer) {
  // The provider registered this page at http://localhost:<port>/oidc/, exactly: 127.0.0.1 is another origin.
  if (location.hostname !== 'localhost') {
    $('wrong-origin').hidden = false
    $('canonical-link').href = `${location.protocol}//localhost:${location.port}/oidc/`
  }

  // This page is both where the login starts and the redirect URI it comes back to: the client
  // created here completes a login that comes back before `auth.ready` settles. The scope asks for
  // the claims shown below; the provider issues refresh tokens without offline_access. Tokens stay
  // in memory (a reload forgets them, and a new login passes the provider without its form while
  // its own session lasts); other tabs of this page share them.
  const redirectUri = `${location.origin}/oidc/`
  // Back from the provider's logout, its redirect brings only `state`; the client removes it from
  // the address bar as it starts (as it does a login's `code` and `state`), so look first.
  const arrived = new URL(location.href).searchParams
  const backFromLogout = arrived.has('state') && !arrived.has('code') && !arrived.has('error')
  const auth = createAuthClient({
    baseUrl: oidcIssuer,
    protocol: oidc({
      issuer: oidcIssuer,
      clientId: 'tokenkeeper-demo',
      redirectUri,
      scope: 'openid profile email',
      // Log out ends the provider's session too (RP-initiated logout), which sends the user back here.
      postLogoutRedirectUri: redirectUri,
    }),
  })

  if (backFromLogout) log('provider-logout', 'back from the provider, signed out there too')

  /** When each access token arrived here, to tell when the client will refresh it. */
  let received = { accessToken: undefined, at: 0 }

  auth.on('login', (session) => log('login', `${session.claims.name ?? ''} (sub ${session.claims.sub})`))
  auth.on('refresh', (session) => log('refresh', `a new access token, for ${Math.round((session.expiresAt - Date.now()) / 1000)} s`))
  auth.on('logout', ({ reason }) => log('logout', reason === 'other-tab' ? 'in another tab' : ''))
  auth.on('session-expired', ({ error }) => {
    log('session-expired', error.code)
    $('login-message').textContent = 'Your session ended at the provider. Please log in again.'
  })
  auth.on('error', (error) => {
    log('error', error.code)
    // A login that came back refused (Cancel at the provider) or broken arrives as an error event.
    if (error.code === 'login_refused') $('login-message').textContent = 'Login cancelled: the provider sent you back without logging you in (login_refused).'
    else if (error.code === 'invalid_callback') $('login-message').textContent = 'That login could not be completed here (invalid_callback). Please try again.'
  })
  auth.on('change', render)

  function render() {
    const session = auth.getSession()
    $('login-panel').hidden = Boolean(session)
    $('session-panel').hidden = !session
    if (!session) return
    if (session.accessToken !== received.accessToken) received = { accessToken: session.accessToken, at: Date.now() }
    const { name, email, sub } = session.claims
    $('user-name').textContent = name ?? sub
    $('claim-name').textContent = name ?? '–'
    $('claim-email').textContent = email ?? '–'
    $('claim-sub').textContent = sub
    $('claims').textContent = JSON.stringify(session.claims, null, 2)
    $('login-message').textContent = ''
  }

  /** When the client will refresh: a margin (60 s by default) before expiry, at most half the lifetime. */
  const nextRefreshAt = (session) => session.expiresAt - Math.min(60_000, (session.expiresAt - received.at) / 2)

  setInterval(() => {
    const session = auth.getSession()
    if (!session) return
    const seconds = (ms) => `${Math.max(0, Math.ceil(ms / 1000))} s`
    $('refresh-countdown').textContent = seconds(nextRefreshAt(session) - Date.now())
    $('expiry-countdown').textContent = seconds(session.expiresAt - Date.now())
  }, 250)

  $('login').addEventListener('click', async () => {
    $('login-message').textContent = ''
    log('login-started', `leaving for ${oidcIssuer}`)
    try {
      // Resolves never: the page leaves for the provider's login form.
      await auth.login({ returnTo: location.href })
    } catch (error) {
      log('error', error.code ?? String(error))
      $('login-message').textContent = `Could not reach the provider (${error.code ?? error}).`
    }
  })

  $('refresh').addEventListener('click', () => {
    // The refresh event logs the success; a failure is shown here.
    auth.refresh().catch((error) => log('error', `refresh now: ${error.code ?? error}`))
  })

  $('logout').addEventListener('click', async () => {
    const { revoked } = await auth.logout()
    log('revocation', revoked ? 'the provider revoked the tokens; now to its logout' : 'not confirmed by the provider')
  })

  await auth.ready
  render()
}
