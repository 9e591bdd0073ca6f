// The demo's OpenID Provider: oidc-provider 8.8.1 (a certified OpenID Connect implementation) in
// this process, on its own port, with a real login form for the demo users. It is what a hosted
// identity provider (Keycloak, Auth0, Entra ID...) does for `tokenkeeper/oidc`, small enough to read:
//
// - one public client, `tokenkeeper-demo`: a browser app with no secret, so PKCE (S256) is required;
//   its redirect URI and its post-logout redirect URI are `${appOrigin}/oidc/`, matched exactly;
// - short access tokens (TOKEN_LIFETIME, 30 s by default) so the app's silent refreshes show, and
//   refresh tokens that rotate on every use (a used one presented again revokes the whole grant);
// - revocation (RFC 7009) and RP-initiated logout on; CORS for the app's origin only;
// - the login form at /interaction/<uid>: a wrong password shows the form again, Cancel sends the
//   user back to the app with `error=access_denied`; no consent screen, the demo client is trusted.
//
// Everything lives in memory (oidc-provider's development adapter): a restart forgets every session
// and token. A production provider adds a database adapter, keys from a secret store, TLS, login
// throttling (examples/server/server.mjs shows one) and its own account store.
//
// oidc-provider quirks met on the way, as 8.8.1 behaves:
// - `offline_access` is dropped from a request unless `prompt=consent` comes with it. The demo does
//   not offer it: refresh tokens come from `issueRefreshToken` instead, and end with the provider's
//   login session (so RP-initiated logout ends them too, which is what the demo wants).
// - CORS preflights are answered for any origin (the client is not known before the body); the
//   request itself, from an origin `clientBasedCORS` refuses, gets 400 invalid_request.
// - The login session's cookie defaults to SameSite=None, which Firefox drops over plain http
//   (None needs Secure): the demo sets Lax, enough for top-level navigations.
// - Profile and email claims go into the ID token only with `conformIdTokenClaims: false` (the
//   app shows the ID token's claims: oidc-provider's access tokens are opaque).
// - `clientBasedCORS` refuses every origin unless told otherwise: the app calls the token and
//   revocation endpoints from another origin (another port is another origin).
// - The interaction cookie's path is the interaction URL: the form posts to that URL or below it.
import { createHash, generateKeyPair, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Provider from 'oidc-provider'

const here = dirname(fileURLToPath(import.meta.url))
const scryptAsync = promisify(scrypt)

/** The one client: the example page at /oidc/ of the demo server. */
export const DEMO_CLIENT_ID = 'tokenkeeper-demo'

/**
 * oidc-provider's `loadExistingGrant` for a first-party client: what it asks for is granted, with
 * no consent screen. The browser's grant for the client is reused while the same user is logged in.
 */
export async function grantFirstParty(ctx) {
  const { oidc } = ctx
  const grantId = oidc.result?.consent?.grantId ?? oidc.session.grantIdFor(oidc.client.clientId)
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined
  if (grant && grant.accountId !== oidc.account.accountId) grant = undefined
  grant ??= new oidc.provider.Grant({ accountId: oidc.account.accountId, clientId: oidc.client.clientId })
  grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '))
  if (oidc.requestParamClaims.size) grant.addOIDCClaims([...oidc.requestParamClaims])
  await grant.save()
  return grant
}
const MAX_FORM_BYTES = 4 * 1024

/**
 * Starts the provider. `appOrigin` is the demo app's origin (`http://localhost:8787`): the redirect
 * URIs and the one origin CORS lets in are made from it.
 * @param {{ port?: number, host?: string, appOrigin: string, accessTokenLifetimeSec?: number, usersFile?: string }} options
 * @returns {Promise<{ issuer: string, clientId: string, close(): Promise<void> }>}
 * @throws {TypeError} naming a bad option.
 */
export async function startDemoProvider(options) {
  const { port = 8788, host = '127.0.0.1', appOrigin, accessTokenLifetimeSec = 30, usersFile = join(here, '../server/users.json') } = options ?? {}
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new TypeError(`port must be an integer port, 0 to 65535, got ${port}`)
  if (typeof appOrigin !== 'string' || !URL.canParse(appOrigin) || new URL(appOrigin).origin !== appOrigin) {
    throw new TypeError(`appOrigin must be an origin such as http://localhost:8787, got ${JSON.stringify(String(appOrigin)).slice(0, 60)}`)
  }
  if (!Number.isInteger(accessTokenLifetimeSec) || accessTokenLifetimeSec < 2 || accessTokenLifetimeSec > 86_400) {
    throw new TypeError(`accessTokenLifetimeSec must be whole seconds, 2 to 86400, got ${accessTokenLifetimeSec}`)
  }
  const { users } = JSON.parse(await readFile(usersFile, 'utf8'))
  const appPage = `${appOrigin}/oidc/`

  // The port first: the issuer names it, and port 0 means "any free one".
  const server = createServer()
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  const issuer = `http://${host === '127.0.0.1' || host === '::1' ? 'localhost' : host}:${server.address().port}`

  let provider
  try {
    const signingKey = await rsaSigningKey()
    provider = quietly(() => new Provider(issuer, configuration({ appOrigin, appPage, accessTokenLifetimeSec, users, signingKey })))
  } catch (error) {
    server.close()
    throw error
  }
  // One line per failure the provider did not expect, never a token or a stack.
  provider.on('server_error', (_ctx, error) => console.error(`demo provider: server error (${error?.name ?? 'error'}: ${error?.message})`))

  const forward = provider.callback()
  server.on('request', (request, response) => {
    response.setHeader('x-content-type-options', 'nosniff')
    response.setHeader('referrer-policy', 'no-referrer')
    const route = /^\/interaction\/([\w-]+)(\/abort)?(?:\?|$)/.exec(request.url ?? '')
    if (!route) return void forward(request, response) // everything else is oidc-provider's
    interaction(provider, users, appPage, request, response, route[1], route[2]).catch((error) => {
      if (response.headersSent) return void response.destroy()
      // An unknown interaction (no cookie, expired, finished already): oidc-provider throws SessionNotFound.
      if (error?.name === 'SessionNotFound') {
        return sendPage(response, 400, page(appOrigin, 'Login over', `
          <h1>This login is over</h1>
          <p>It expired or was finished already. <a href="${escapeHtml(appPage)}">Back to the app</a> to start again.</p>`))
      }
      if (error?.name === 'BadRequest') return void response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end(error.message)
      console.error(`demo provider: ${request.method} /interaction failed (${error?.name ?? 'error'})`)
      response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('server error')
    })
  })

  return {
    issuer,
    clientId: DEMO_CLIENT_ID,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** oidc-provider's configuration for the demo. */
function configuration({ appOrigin, appPage, accessTokenLifetimeSec, users, signingKey }) {
  const SESSION_SEC = 8 * 3600
  return {
    clients: [
      {
        client_id: DEMO_CLIENT_ID,
        client_name: 'tokenkeeper demo',
        application_type: 'web',
        // A public client: it runs in the browser, so it has no secret to authenticate with.
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [appPage],
        post_logout_redirect_uris: [appPage],
      },
    ],
    jwks: { keys: [signingKey] },
    // Keys random at every start: a restart logs everybody out, as the in-memory store forgets them
    // anyway. The login session's cookie is SameSite=Lax (see the quirks above).
    cookies: { keys: [randomBytes(32).toString('base64url')], long: { signed: true, sameSite: 'lax' }, short: { signed: true } },
    responseTypes: ['code'],
    pkce: { methods: ['S256'], required: () => true },
    scopes: ['openid', 'profile', 'email'],
    claims: { acr: null, auth_time: null, iss: null, sid: null, openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
    // The ID token carries the profile and email claims too, not only `sub`: the app displays them.
    conformIdTokenClaims: false,
    rotateRefreshToken: true,
    // Refresh tokens without `offline_access` (see the quirks above): they end with the login session.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // The app on its own port is another origin: let it, and only it, call the token endpoints.
    clientBasedCORS: (_ctx, origin, client) => client.clientId === DEMO_CLIENT_ID && origin === appOrigin,
    ttl: {
      AccessToken: accessTokenLifetimeSec,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: SESSION_SEC,
      Grant: SESSION_SEC,
      // A rotated refresh token keeps its predecessor's end (oidc-provider's default for public clients).
      RefreshToken: (ctx, token, client) =>
        ctx?.oidc.entities.RotatedRefreshToken && client.clientAuthMethod === 'none' && !token.isSenderConstrained()
          ? ctx.oidc.entities.RotatedRefreshToken.remainingTTL
          : SESSION_SEC,
    },
    async findAccount(_ctx, sub) {
      if (!Object.hasOwn(users, sub)) return undefined
      // users.json has names only: the address is made up (and said to be unverified).
      return { accountId: sub, claims: async () => ({ sub, name: users[sub].name, email: `${sub}@example.com`, email_verified: false }) }
    },
    // No consent screen: the demo client is first-party, so what it asks for is granted.
    loadExistingGrant: grantFirstParty,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async renderError(ctx, out) {
      ctx.type = 'html'
      const fields = Object.entries(out).map(([name, value]) => `<dt>${escapeHtml(name)}</dt><dd>${escapeHtml(String(value))}</dd>`).join('')
      setPage(ctx, page(appOrigin, 'Error', `<h1>The provider refused the request</h1><dl>${fields}</dl><p><a href="${escapeHtml(appPage)}">Back to the app</a></p>`))
    },
    features: {
      devInteractions: { enabled: false }, // its stand-in login page accepts any name: ours checks passwords
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        // oidc-provider always asks "sign out?" with a form; the app asked already (its Log out
        // button), so the page answers "yes, of the provider too" and submits itself.
        async logoutSource(ctx, form) {
          const yes = form.replace('</form>', '<input type="hidden" name="logout" value="yes"><noscript><button type="submit">Sign out</button></noscript></form>')
          setPage(ctx, page(appOrigin, 'Signing out', `<h1>Signing you out…</h1>${yes}`, 'document.forms[0].submit()'))
        },
        // Only reached without a post_logout_redirect_uri; the app always sends one.
        async postLogoutSuccessSource(ctx) {
          setPage(ctx, page(appOrigin, 'Signed out', `<h1>You are signed out</h1><p><a href="${escapeHtml(appPage)}">Back to the app</a></p>`))
        },
      },
    },
  }
}

/**
 * The interaction route: GET /interaction/<uid> shows the login form, POST there checks it (a wrong
 * password shows the form again, at the same address), POST /interaction/<uid>/abort is Cancel.
 */
async function interaction(provider, users, appPage, request, response, uid, abort) {
  const details = await provider.interactionDetails(request, response)
  if (details.uid !== uid) throw Object.assign(new Error('another interaction'), { name: 'SessionNotFound' })
  const appOrigin = new URL(appPage).origin
  const client = await provider.Client.find(details.params.client_id)
  const showForm = (status, { username = details.params.login_hint ?? '', error = '' } = {}) =>
    sendPage(response, status, page(appOrigin, 'Log in', loginForm({ uid, clientName: client?.clientName ?? details.params.client_id, username, error })))

  if (request.method === 'GET' && !abort) {
    if (details.prompt.name === 'login') return showForm(200)
    // Consent is asked only when the app sends prompt=consent: grant what is missing, no screen.
    const { missingOIDCScope = [], missingOIDCClaims = [] } = details.prompt.details
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id })
    if (missingOIDCScope.length) grant.addOIDCScope(missingOIDCScope.join(' '))
    if (missingOIDCClaims.length) grant.addOIDCClaims(missingOIDCClaims)
    return provider.interactionFinished(request, response, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true })
  }
  if (request.method !== 'POST') {
    response.writeHead(405, { allow: abort ? 'POST' : 'GET, POST' }).end()
    return
  }
  const form = await readForm(request)
  if (abort) {
    // The app gets `error=access_denied` on its redirect URI: tokenkeeper reports `login_refused`.
    return provider.interactionFinished(request, response, { error: 'access_denied', error_description: 'The user cancelled the login.' }, { mergeWithLastSubmission: false })
  }
  const username = form.get('username') ?? ''
  const password = form.get('password') ?? ''
  if (details.prompt.name !== 'login') return showForm(400, { username, error: 'This login step is done already.' })
  if (!(await checkPassword(users, username, password))) return showForm(200, { username, error: 'Wrong username or password.' })
  await provider.interactionFinished(request, response, { login: { accountId: username } }, { mergeWithLastSubmission: false })
}

/** The user if the password is theirs, else undefined. Hashes even for unknown names, so timing tells nothing. */
async function checkPassword(users, username, password) {
  if (username.length > 256 || password.length > 1024) return undefined
  const user = Object.hasOwn(users, username) ? users[username] : undefined
  const salt = Buffer.from(user?.salt ?? 'AAAAAAAAAAAAAAAAAAAAAA==', 'base64')
  // The same parameters as examples/server/users.json's hashes (N=16384, r=8, p=1).
  const actual = await scryptAsync(password, salt, 32, { N: 16384, r: 8, p: 1 })
  return user !== undefined && timingSafeEqual(actual, Buffer.from(user.hash, 'base64')) ? user : undefined
}

/** A form post's fields; anything else, or more than 4 KB, is refused. */
async function readForm(request) {
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(request.headers['content-type'] ?? '')) {
    throw Object.assign(new Error('not a form post'), { name: 'BadRequest' })
  }
  let size = 0
  const chunks = []
  for await (const chunk of request) {
    size += chunk.length
    if (size > MAX_FORM_BYTES) throw Object.assign(new Error('form too large'), { name: 'BadRequest' })
    chunks.push(chunk)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}

function loginForm({ uid, clientName, username, error }) {
  const action = `/interaction/${uid}`
  return `
    <h1>Log in to the demo provider</h1>
    <p><strong>${escapeHtml(clientName)}</strong> asks who you are.</p>
    <form method="post" action="${action}" id="login-form">
      <label>Username <input name="username" autocomplete="username" value="${escapeHtml(username)}" required ${username ? '' : 'autofocus'}></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required ${username ? 'autofocus' : ''}></label>
      <p class="error" id="login-error" role="alert">${escapeHtml(error)}</p>
      <button type="submit" id="login">Log in</button>
      <button type="submit" id="cancel" formaction="${action}/abort" formnovalidate>Cancel</button>
    </form>
    <p class="hint">Try ada / lovelace or grace / hopper.</p>`
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#222}
label{display:block;margin:.5rem 0}input{display:block;width:100%;box-sizing:border-box;padding:.4rem;font:inherit}
button{font:inherit;padding:.4rem 1rem;margin-right:.5rem}.error{color:#b00020;min-height:1.5em}.hint{color:#666}dt{font-weight:bold}`

/**
 * A whole page and its Content-Security-Policy: no script but `script` (allowed by its hash), the
 * style above, forms only to this provider and, through its redirects, back to the app.
 */
function page(appOrigin, title, body, script) {
  const hash = (text) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`
  const csp = [
    "default-src 'none'",
    `style-src ${hash(STYLE)}`,
    'img-src data:', // the empty icon below: else the browser asks for /favicon.ico, against the policy
    `script-src ${script ? hash(script) : "'none'"}`,
    `form-action 'self' ${appOrigin}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · tokenkeeper demo provider</title><link rel="icon" href="data:,"><style>${STYLE}</style></head>
<body>${body}${script ? `<script>${script}</script>` : ''}</body></html>`
  return { html, csp }
}

function sendPage(response, status, { html, csp }) {
  response.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': csp })
  response.end(html)
}

/** The same, from one of oidc-provider's page hooks (a koa context). */
function setPage(ctx, { html, csp }) {
  ctx.type = 'html'
  ctx.set('content-security-policy', csp)
  ctx.body = html
}

/** Text for HTML, in an element or a quoted attribute: whatever the user typed never becomes markup. */
function escapeHtml(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')
}

/** A fresh RS256 key (oidc-provider's default ID token algorithm) as a private JWK. */
async function rsaSigningKey() {
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 })
  return { ...privateKey.export({ format: 'jwk' }), kid: `demo-${randomBytes(4).toString('hex')}`, use: 'sig', alg: 'RS256' }
}

/** Builds the provider without its warning that the in-memory adapter is for development: we know, it is a demo. */
function quietly(build) {
  const warn = console.warn
  console.warn = (...args) => {
    if (typeof args[0] === 'string' && args[0].includes('development-only in-memory adapter')) return
    warn.apply(console, args)
  }
  try {
    return build()
  } finally {
    console.warn = warn
  }
}
