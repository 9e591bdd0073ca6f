// A real OpenID Provider (oidc-provider 8.8.1, in memory) for tests: one public SPA client with
// PKCE (S256 only), rotating refresh tokens, revocation and RP-initiated logout, on 127.0.0.1 at a
// free port. `authorize()` and `endSession()` play the browser in Node: they follow redirects with
// a cookie jar, pass a login step that needs no form, submit self-submitting forms, and return
// the redirect to the client instead of requesting it. One jar per fixture, like one browser;
// `clearCookies()` starts a new one. No consent screen: loadExistingGrant grants what the client
// asks for, and the interaction route grants what an explicit prompt=consent asks for.
//
// What oidc-provider 8.8.1 does with this setup, seen by running it (most of it is asserted in
// test/oidcProviderFixture.test.ts). The JSON error bodies never say more than
// 'grant request is invalid'; the detail quoted here is err.error_detail, only in the events.
// 1. Refresh token reuse: a rotated (already used) refresh token presented again gets 400
//    { error: 'invalid_grant', error_description: 'grant request is invalid' } (detail 'refresh
//    token already used') and revokes the whole grant (`grant.revoked` once): the newest refresh
//    token is deleted (RefreshToken.find gives undefined; using it: 400 invalid_grant, detail
//    'refresh token not found') and the grant's access tokens are gone (userinfo answers 401).
//    With rotateRefreshToken false the same refresh token comes back on every refresh.
// 2. Code exchange: a missing or wrong code_verifier is 400 invalid_grant, detail 'PKCE
//    verification failed' (not invalid_request); a redirect_uri differing from the authorization
//    request's is 400 invalid_grant, detail 'authorization code redirect_uri mismatch'. None of
//    these spends the code: the right request still works afterwards. A code redeemed twice is
//    400 invalid_grant (detail 'authorization code already consumed') and revokes the grant: the
//    tokens from the first redemption stop working. Without code_challenge the authorization
//    endpoint already refuses: callback error=invalid_request, 'Authorization Server policy
//    requires PKCE to be used for this request'; code_challenge_method=plain: error=invalid_request
//    'not supported value of code_challenge_method'.
// 3. Token responses (code and refresh alike): { access_token, expires_in, id_token,
//    refresh_token, scope, token_type: 'Bearer' }. access_token is opaque (43 base64url characters,
//    no resource indicators configured); expires_in is ttl.AccessToken; scope is the granted scope
//    as a string; every refresh returns a new id_token (scope has openid) and a new refresh_token.
//    The ID token has the profile/email claims because conformIdTokenClaims is false here; with
//    true it has only sub (and nonce, at_hash, aud, exp, iat, iss), the rest is at userinfo.
//    offline_access: oidc-provider silently drops it from the request unless prompt=consent is
//    there too (scope comes back 'openid'). Refresh tokens are issued anyway (issueRefreshToken
//    says yes), but then they expire with the provider session and logout revokes their grant;
//    with offline_access + prompt=consent the grant and its refresh token outlive logout.
// 4. Discovery (`${issuer}/.well-known/openid-configuration`): issuer, authorization_endpoint
//    /auth, token_endpoint /token, revocation_endpoint /token/revocation, end_session_endpoint
//    /session/end, userinfo_endpoint /me, jwks_uri /jwks, pushed_authorization_request_endpoint
//    /request (PAR is on by default), code_challenge_methods_supported ['S256'],
//    authorization_response_iss_parameter_supported true (hard-coded in 8.x: every callback,
//    success or error, carries `iss`), response_types_supported ['code'], grant_types_supported
//    ['authorization_code', 'refresh_token'], id_token_signing_alg_values_supported ['RS256'].
//    Under `issuerPath` all of it, discovery included, sits below the path.
// 5. RP-initiated logout: GET /session/end?id_token_hint&post_logout_redirect_uri&state with the
//    _session cookie answers 200 with the logoutSource page, always a confirm form: <form
//    id="op.logoutForm" method="post" action="/session/end/confirm"> with a hidden `xsrf` (the
//    default page adds buttons, logout=yes for "sign me out", none for "stay signed in"). To
//    complete it in Node, POST xsrf and logout=yes as a form to the action with the same
//    cookies: 303 to post_logout_redirect_uri?state=..., end_session.success, the session and
//    every non-offline grant of it revoked (`grant.revoked` once each). Without logout=yes only
//    this client's grant goes (`grant.revoked` emitted twice for it) and the session stays. The
//    page here adds logout=yes and submits itself, so a browser goes straight through;
//    `endSession()` does that in Node. Without a session cookie the provider answers a
//    self-submitting form (xsrf, logout=yes) itself; without post_logout_redirect_uri it ends at
//    /session/end/success. An unregistered post_logout_redirect_uri is a 400 page.
// Also: setUser() while another user is logged in makes the next authorization log the old one
// out first (oidc-provider's own "session principal changed" path: end_session.success and
// grant.revoked for the old user's grant). oidc-provider has no event for a successful
// revocation; a middleware counts the revocation route's 200s. The one warning left after
// configuring everything the notices name, about the in-memory adapter, is filtered out while
// the provider is built (the adapter is the default one, as asked).
import { generateKeyPairSync } from 'node:crypto'
import { createServer, request as httpRequest } from 'node:http'
import Provider, { interactionPolicy } from 'oidc-provider'
import { grantFirstParty } from '../../examples/oidc-provider/provider.mjs'

const DEFAULT_ACCOUNTS = {
  ada: { name: 'Ada Lovelace', given_name: 'Ada', family_name: 'Lovelace', email: 'ada@example.com', email_verified: true },
  grace: { name: 'Grace Hopper', given_name: 'Grace', family_name: 'Hopper', email: 'grace@example.com', email_verified: true },
}
const COOKIE_KEYS = ['tokenkeeper-test-cookie-key-1']
const MAX_HOPS = 20

/** One RSA key per process: generating it takes a while, and tests need no fresh key each. */
let signingJwk
function signingKey() {
  signingJwk ??= {
    ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
    kid: 'tokenkeeper-test-rs256',
    use: 'sig',
    alg: 'RS256',
  }
  return signingJwk
}

function newEvents() {
  return {
    grants: { authorization_code: 0, refresh_token: 0 },
    grantErrors: [],
    refreshTokenReuse: 0,
    codeReuse: 0,
    grantRevoked: [],
    endSession: 0,
    revocations: 0,
    authorizations: 0,
    interactions: 0,
    errors: [],
    serverErrors: [],
    log: [],
  }
}

const describeError = (err) =>
  [err.name, ': ', err.error_description ?? err.message, err.error_detail ? ` (${err.error_detail})` : ''].join('')

function deepFeatures(base, overrides = {}) {
  const out = { ...base }
  for (const [name, value] of Object.entries(overrides)) {
    out[name] = value && typeof value === 'object' ? { ...base[name], ...value } : value
  }
  return out
}

function page(title, body) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`
}

const htmlText = (s) =>
  s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')

/** The first POST form of an HTML page, as a browser with scripts would submit it. */
function postForm(html, base) {
  const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html)
  if (!form || !/method\s*=\s*"post"/i.test(form[1])) return undefined
  const action = /action\s*=\s*"([^"]*)"/i.exec(form[1])?.[1]
  if (action === undefined) return undefined
  const fields = new URLSearchParams()
  for (const [input] of form[2].matchAll(/<input\b[^>]*>/gi)) {
    const name = /name\s*=\s*"([^"]*)"/i.exec(input)?.[1]
    if (name !== undefined) fields.append(htmlText(name), htmlText(/value\s*=\s*"([^"]*)"/i.exec(input)?.[1] ?? ''))
  }
  return { action: new URL(htmlText(action), base).href, fields }
}

const excerpt = (text) =>
  htmlText(text.replace(/<(head|style|script)\b[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300)

/** The part of a URL a redirect is matched on: no query, no fragment. */
const bare = (url) => {
  const u = new URL(url)
  return `${u.origin}${u.pathname}`
}

/** A cookie jar keyed by name and path, enough for one host over http. */
class CookieJar {
  #cookies = new Map()

  store(setCookies) {
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';')
      const eq = pair.indexOf('=')
      if (eq < 1) continue
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      let path = '/'
      let expired = value === ''
      for (const attribute of attributes) {
        const [key = '', ...rest] = attribute.split('=')
        const v = rest.join('=').trim()
        switch (key.trim().toLowerCase()) {
          case 'path':
            path = v || '/'
            break
          case 'expires':
            if (Date.parse(v) <= Date.now()) expired = true
            break
          case 'max-age':
            if (Number(v) <= 0) expired = true
            break
        }
      }
      const key = `${name}\0${path}`
      if (expired) this.#cookies.delete(key)
      else this.#cookies.set(key, { name, value, path })
    }
  }

  header(url) {
    const { pathname } = new URL(url)
    const matching = [...this.#cookies.values()].filter(
      ({ path }) => pathname === path || pathname.startsWith(path.endsWith('/') ? path : `${path}/`),
    )
    matching.sort((a, b) => b.path.length - a.path.length)
    return matching.map(({ name, value }) => `${name}=${value}`).join('; ')
  }

  names() {
    return [...new Set([...this.#cookies.values()].map(({ name }) => name))]
  }

  clear() {
    this.#cookies.clear()
  }
}

/** @param {import('./oidcProvider.d.mts').OidcProviderOptions} [options] */
export async function startOidcProvider(options = {}) {
  const {
    clientId = 'spa',
    redirectUris = ['http://localhost:5173/callback'],
    accessTokenTtlSec = 60,
    idTokenTtlSec = 3600,
    refreshTokenTtlSec = 14 * 24 * 3600,
    rotateRefreshToken = true,
    conformIdTokenClaims = false,
    corsOrigins,
    user = 'ada',
    features = {},
    client = {},
    config = {},
  } = options
  const postLogoutRedirectUris = options.postLogoutRedirectUris ?? [...new Set(redirectUris.map((u) => new URL('/', u).href))]
  const accounts = { ...DEFAULT_ACCOUNTS, ...options.accounts }
  const issuerPath = (options.issuerPath ?? '').replace(/\/+$/, '')
  if (issuerPath && !issuerPath.startsWith('/')) throw new TypeError(`issuerPath must start with "/": ${issuerPath}`)
  if (!(user in accounts)) throw new TypeError(`unknown account: ${user}`)

  let currentUser = user
  /** @type {string[]} descriptions of the denials still to come */
  const denials = []
  const events = newEvents()
  const record = (event, detail) => events.log.push(detail === undefined ? { event } : { event, detail })

  const server = createServer()
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(undefined))
  })
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('no port')
  const origin = `http://127.0.0.1:${address.port}`
  const issuer = `${origin}${issuerPath}`

  const allowOrigin =
    corsOrigins === undefined
      ? () => true
      : typeof corsOrigins === 'function'
        ? corsOrigins
        : (o) => corsOrigins.includes(o)

  const login = interactionPolicy.base()
  const loginPrompt = login.get('login')
  // A pending denial, or a different test user than the session's, sends even a logged-in
  // browser through the interaction route, so the next authorization follows denyNext/setUser.
  loginPrompt.checks.push(
    new interactionPolicy.Check('fixture_deny', 'the test asked to deny the next authorization', () => denials.length > 0),
    new interactionPolicy.Check(
      'fixture_user',
      'the test switched the user',
      (ctx) => ctx.oidc.session.accountId !== undefined && ctx.oidc.session.accountId !== currentUser,
    ),
  )

  const configuration = {
    clients: [
      {
        client_id: clientId,
        client_name: 'tokenkeeper test SPA',
        application_type: 'web',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: redirectUris,
        post_logout_redirect_uris: postLogoutRedirectUris,
        ...client,
      },
    ],
    jwks: { keys: [signingKey()] },
    cookies: { keys: COOKIE_KEYS, long: { signed: true }, short: { signed: true } },
    responseTypes: ['code'],
    pkce: { methods: ['S256'], required: () => true },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: {
      acr: null,
      auth_time: null,
      iss: null,
      sid: null,
      openid: ['sub'],
      profile: ['name', 'given_name', 'family_name'],
      email: ['email', 'email_verified'],
    },
    conformIdTokenClaims,
    rotateRefreshToken,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    clientBasedCORS: (_ctx, o, client) => allowOrigin(o, client.clientId),
    ttl: {
      AccessToken: accessTokenTtlSec,
      AuthorizationCode: 60,
      IdToken: idTokenTtlSec,
      Interaction: 600,
      Session: 24 * 3600,
      Grant: 14 * 24 * 3600,
      // As oidc-provider's default: a rotated public-client token keeps its predecessor's end.
      RefreshToken: (ctx, token, client) =>
        ctx?.oidc.entities.RotatedRefreshToken &&
        client.applicationType === 'web' &&
        client.clientAuthMethod === 'none' &&
        !token.isSenderConstrained()
          ? ctx.oidc.entities.RotatedRefreshToken.remainingTTL
          : refreshTokenTtlSec,
    },
    async findAccount(_ctx, sub) {
      const claims = accounts[sub]
      if (!claims) return undefined
      return { accountId: sub, claims: async () => ({ ...claims, sub }) }
    },
    // No consent screen: the client is first-party, whatever it asks for is granted (as the demo's).
    loadExistingGrant: grantFirstParty,
    interactions: {
      policy: login,
      url: (_ctx, interaction) => `${issuerPath}/interaction/${interaction.uid}`,
    },
    async renderError(ctx, out) {
      ctx.type = 'html'
      ctx.body = page('Error', Object.entries(out).map(([k, v]) => `<p>${k}: ${escapeHtml(String(v))}</p>`).join(''))
    },
    features: deepFeatures(
      {
        devInteractions: { enabled: false },
        revocation: { enabled: true },
        userinfo: { enabled: true },
        rpInitiatedLogout: {
          enabled: true,
          // The confirm form, answered "yes, sign me out of the OP" and submitted at once.
          async logoutSource(ctx, form) {
            const yes = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/><noscript><button type="submit">Sign out</button></noscript></form>')
            ctx.body = page('Signing out', `${yes}<script>document.forms[0].submit()</script>`)
          },
          async postLogoutSuccessSource(ctx) {
            ctx.body = page('Signed out', '<h1>Signed out</h1>')
          },
        },
      },
      features,
    ),
    ...config,
  }

  let provider
  try {
    provider = constructQuietly(issuer, configuration)
  } catch (err) {
    server.close()
    throw err
  }

  provider.on('grant.success', (ctx) => {
    const type = ctx.oidc.params.grant_type
    events.grants[type] = (events.grants[type] ?? 0) + 1
    record('grant.success', type)
  })
  provider.on('grant.error', (ctx, err) => {
    const grantType = ctx.oidc?.params?.grant_type
    events.grantErrors.push({ grantType, error: err.error ?? err.message, name: err.name, detail: err.error_detail })
    if (err.error_detail === 'refresh token already used') events.refreshTokenReuse++
    if (err.error_detail === 'authorization code already consumed') events.codeReuse++
    events.errors.push(`grant.error ${describeError(err)}`)
    record('grant.error', describeError(err))
  })
  provider.on('grant.revoked', (_ctx, grantId) => {
    events.grantRevoked.push(grantId)
    record('grant.revoked', grantId)
  })
  provider.on('authorization.success', () => {
    events.authorizations++
    record('authorization.success')
  })
  provider.on('interaction.started', (_ctx, prompt) => {
    events.interactions++
    record('interaction.started', `${prompt.name}: ${prompt.reasons.join(', ')}`)
  })
  provider.on('end_session.success', () => {
    events.endSession++
    record('end_session.success')
  })
  for (const name of ['authorization.error', 'revocation.error', 'end_session.error', 'end_session_confirm.error', 'userinfo.error']) {
    provider.on(name, (_ctx, err) => {
      events.errors.push(`${name} ${describeError(err)}`)
      record(name, describeError(err))
    })
  }
  provider.on('server_error', (_ctx, err) => {
    events.serverErrors.push(String(err?.stack ?? err))
    events.errors.push(`server_error ${err?.message ?? err}`)
    record('server_error', String(err?.message ?? err))
  })
  // oidc-provider emits nothing when a revocation succeeds.
  provider.use(async (ctx, next) => {
    await next()
    if (ctx.oidc?.route === 'revocation' && ctx.status === 200) {
      events.revocations++
      record('revocation.success')
    }
  })

  const callback = provider.callback()

  async function interaction(req, res) {
    const details = await provider.interactionDetails(req, res)
    const deny = denials.shift()
    if (deny !== undefined) {
      await provider.interactionFinished(req, res, { error: 'access_denied', error_description: deny }, { mergeWithLastSubmission: false })
      return
    }
    if (details.prompt.name === 'login') {
      await provider.interactionFinished(req, res, { login: { accountId: currentUser } })
      return
    }
    // consent: reached only when it was asked for (prompt=consent); grant whatever is missing
    const { missingOIDCScope = [], missingOIDCClaims = [], missingResourceScopes = {} } = details.prompt.details
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id })
    if (missingOIDCScope.length) grant.addOIDCScope(missingOIDCScope.join(' '))
    if (missingOIDCClaims.length) grant.addOIDCClaims(missingOIDCClaims)
    for (const [indicator, scopes] of Object.entries(missingResourceScopes)) grant.addResourceScope(indicator, scopes.join(' '))
    const grantId = await grant.save()
    await provider.interactionFinished(req, res, { consent: { grantId } })
  }

  server.on('request', (req, res) => {
    const { pathname } = new URL(req.url ?? '/', origin)
    const fail = (status, message) => {
      if (res.headersSent) return res.destroy()
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(message)
    }
    if (issuerPath && pathname !== issuerPath && !pathname.startsWith(`${issuerPath}/`)) return fail(404, 'not found')
    if (pathname.startsWith(`${issuerPath}/interaction/`)) {
      interaction(req, res).catch((err) => fail(400, `interaction failed: ${describeError(err)}`))
      return
    }
    if (issuerPath) {
      // What express and koa-mount do: oidc-provider reads its mount path off originalUrl.
      req.originalUrl = req.url
      req.url = req.url.slice(issuerPath.length) || '/'
    }
    callback(req, res)
  })

  const jar = new CookieJar()

  /**
   * Requests `url` as a browser with scripts on would, until a redirect satisfies `done`;
   * returns that redirect's Location without requesting it.
   */
  async function browse(startUrl, done, what) {
    let url = startUrl
    let init = { method: 'GET' }
    for (let hop = 0; hop < MAX_HOPS; hop++) {
      if (new URL(url).origin !== origin) throw new Error(`${what}: left the provider for ${url}`)
      const headers = { accept: 'text/html,application/xhtml+xml', 'user-agent': 'tokenkeeper-test' }
      const cookie = jar.header(url)
      if (cookie) headers.cookie = cookie
      if (init.body) headers['content-type'] = 'application/x-www-form-urlencoded'
      const response = await send(url, init.method, headers, init.body)
      jar.store(response.setCookie)
      const location = response.location
      if (response.status >= 300 && response.status < 400 && location) {
        const next = new URL(location, url).href
        if (done(next)) return next
        url = next
        init = { method: 'GET' }
        continue
      }
      const text = response.text
      const form = response.status === 200 ? postForm(text, url) : undefined
      if (form) {
        if (done(form.action)) {
          throw new Error(`${what}: the provider answered with a form_post to ${form.action}; use response_mode=query`)
        }
        url = form.action
        init = { method: 'POST', body: form.fields.toString() }
        continue
      }
      throw new Error(`${what}: ${response.status} from ${new URL(url).pathname}: ${excerpt(text)}`)
    }
    throw new Error(`${what}: more than ${MAX_HOPS} redirects from ${startUrl}`)
  }

  return {
    issuer,
    clientId,
    provider,
    events,
    get user() {
      return currentUser
    },
    authorize(authorizationUrl) {
      const requested = new URL(authorizationUrl).searchParams.get('redirect_uri')
      const targets = new Set((requested ? [requested] : redirectUris).map(bare))
      return browse(authorizationUrl, (next) => targets.has(bare(next)), 'authorize')
    },
    endSession(endSessionUrl) {
      const requested = new URL(endSessionUrl).searchParams.get('post_logout_redirect_uri')
      const success = bare(`${issuer}/session/end/success`)
      return browse(
        endSessionUrl,
        (next) => bare(next) === success || (requested !== null && bare(next) === bare(requested)),
        'endSession',
      )
    },
    setUser(accountId) {
      if (!(accountId in accounts)) throw new TypeError(`unknown account: ${accountId}`)
      currentUser = accountId
    },
    denyNext(description = 'the test user denied the request') {
      denials.push(description)
    },
    cookieNames: () => jar.names(),
    clearCookies: () => jar.clear(),
    resetEvents() {
      Object.assign(events, newEvents())
    },
    close() {
      return new Promise((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve(undefined)))
        server.closeAllConnections()
      })
    },
  }
}

/**
 * One HTTP request with node:http, never the test environment's `fetch`: under happy-dom that is
 * the page's fetch, with CORS, which a browser's own navigation does not go through.
 */
function send(url, method, headers, body) {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, headers }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk) => (text += chunk))
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, location: response.headers.location ?? null, setCookie: response.headers['set-cookie'] ?? [], text }),
      )
      response.on('error', reject)
    })
    request.on('error', reject)
    request.end(body)
  })
}

function escapeHtml(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Builds the provider with its one remaining warning, about the in-memory adapter, left out. */
function constructQuietly(issuer, configuration) {
  const warn = console.warn
  console.warn = (...args) => {
    if (typeof args[0] === 'string' && args[0].includes('development-only in-memory adapter')) return
    warn.apply(console, args)
  }
  try {
    return new Provider(issuer, configuration)
  } finally {
    console.warn = warn
  }
}
