import { useEffect, useState } from 'react'
import { createRoot } from 'react-dom/client'
import { createAuthClient, isAuthError } from 'tokenkeeper'
import { useSession } from 'tokenkeeper/react'
import { dpop } from 'tokenkeeper/dpop'

const config = await fetch('/api/config').then((response) => response.json())
const options = { baseUrl: location.origin, refreshTokenInCookie: config.refreshMode === 'cookie' }
// With DPOP=1 the server demands proofs (tokenkeeper/dpop): the same options, through dpop().
const auth = createAuthClient(config.dpop ? dpop(options) : options)

function useEventLog() {
  const [events, setEvents] = useState([])
  useEffect(() => {
    const add = (type, detail = '') => setEvents((list) => [{ at: new Date().toLocaleTimeString(), type, detail }, ...list].slice(0, 50))
    const offs = [
      auth.on('login', (session) => add('login', session.claims.sub)),
      auth.on('refresh', () => add('refresh', 'a silent refresh brought a new access token')),
      auth.on('logout', ({ reason }) => add('logout', reason === 'other-tab' ? 'in another tab' : '')),
      auth.on('session-expired', ({ error }) => add('session-expired', error.code)),
      auth.on('error', (error) => add('error', `${error.code}: the client will retry`)),
    ]
    return () => offs.forEach((off) => off())
  }, [])
  return events
}

function useNow(intervalMs) {
  const [now, setNow] = useState(Date.now())
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs)
    return () => clearInterval(timer)
  }, [intervalMs])
  return now
}

function LoginForm() {
  const [error, setError] = useState('')
  async function submit(event) {
    event.preventDefault()
    const form = new FormData(event.target)
    setError('')
    try {
      await auth.login({ username: form.get('username'), password: form.get('password') })
    } catch (failure) {
      setError(isAuthError(failure) && failure.code === 'invalid_credentials' ? 'Wrong username or password.' : `Login failed (${failure.code ?? failure})`)
    }
  }
  return (
    <section>
      <h2>Log in</h2>
      <form onSubmit={submit}>
        <label>Username <input name="username" autoComplete="username" defaultValue="ada" required /></label>
        <label>Password <input name="password" type="password" autoComplete="current-password" required /></label>
        <button type="submit">Log in</button>
      </form>
      <p className="error" role="alert">{error}</p>
      <p className="hint">Try ada / lovelace or grace / hopper.</p>
    </section>
  )
}

function SessionPanel({ session }) {
  const now = useNow(250)
  const [apiResult, setApiResult] = useState('')
  const { iat, exp } = session.claims
  const lifetime = typeof iat === 'number' && typeof exp === 'number' ? (exp - iat) * 1000 : 60_000
  const nextRefresh = session.expiresAt - Math.min(60_000, lifetime / 2)
  const seconds = (ms) => `${Math.max(0, Math.ceil(ms / 1000))} s`
  async function callApi() {
    const response = await auth.fetch('/api/me')
    setApiResult(`${response.status} ${JSON.stringify(await response.json())}`)
  }
  return (
    <section>
      <h2>Logged in as {session.claims.name ?? session.claims.sub}</h2>
      <dl>
        <dt>Next silent refresh in</dt>
        <dd>{seconds(nextRefresh - now)}</dd>
        <dt>Access token expires in</dt>
        <dd>{seconds(session.expiresAt - now)}</dd>
      </dl>
      <h3>Claims</h3>
      <pre>{JSON.stringify(session.claims, null, 2)}</pre>
      <p>
        <button onClick={callApi}>Call the API</button>
        <button onClick={() => auth.logout()}>Log out</button>
      </p>
      <pre aria-live="polite">{apiResult}</pre>
    </section>
  )
}

function App() {
  const session = useSession(auth)
  const events = useEventLog()
  return (
    <>
      <header>
        <h1>tokenkeeper demo (React)</h1>
        <p>
          <code>useSession(auth)</code> from <code>tokenkeeper/react</code>. <a href="/">The plain version</a>.
        </p>
      </header>
      <main>
        {session ? <SessionPanel session={session} /> : <LoginForm />}
        <section>
          <h2>Events</h2>
          <ol reversed>
            {events.map((event, index) => (
              <li key={events.length - index}>{`${event.at}  ${event.type}  ${event.detail}`}</li>
            ))}
          </ol>
        </section>
      </main>
    </>
  )
}

await auth.ready
createRoot(document.getElementById('root')).render(<App />)
