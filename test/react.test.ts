import { act, createElement } from 'react'
import { createRoot } from 'react-dom/client'
import { renderToString } from 'react-dom/server'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createAuthClient, type AuthClient, type Session } from '../src/index.js'
import { useSession } from '../src/react/index.js'
import { BASE_URL, useMockAuthServer } from './helpers.js'

const { mock } = useMockAuthServer()
const ADA = { username: 'ada', password: 'lovelace' }

beforeAll(() => {
  ;(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true
})

let auth: AuthClient
afterEach(() => auth?.destroy())

function render(client: AuthClient) {
  const renders: (Session | null)[] = []
  function Probe() {
    const session = useSession(client)
    renders.push(session)
    return createElement('span', null, session ? `hello ${String(session.claims.sub)}` : 'logged out')
  }
  const container = document.createElement('div')
  const root = createRoot(container)
  act(() => root.render(createElement(Probe)))
  return { container, renders, root }
}

describe('useSession', () => {
  it('re-renders on login, refresh and logout with the current session', async () => {
    auth = createAuthClient({ baseUrl: BASE_URL, crossTab: false })
    const { container, renders, root } = render(auth)
    expect(container.textContent).toBe('logged out')
    let session: Session | undefined
    await act(async () => {
      session = await auth.login(ADA)
    })
    expect(container.textContent).toBe('hello ada')
    expect(renders.at(-1)).toBe(session)
    await act(async () => {
      await auth.refresh()
    })
    expect(renders.at(-1)).toBe(auth.getSession())
    expect(renders.at(-1)).not.toBe(session)
    await act(async () => {
      await auth.logout()
    })
    expect(container.textContent).toBe('logged out')
    expect(mock().counts.refresh).toBe(1)
    act(() => root.unmount())
  })

  it('does not re-render when nothing changed: the snapshot is the same object', async () => {
    auth = createAuthClient({ baseUrl: BASE_URL, crossTab: false })
    await auth.login(ADA)
    const { renders, root } = render(auth)
    const count = renders.length
    await act(async () => {
      await auth.getAccessToken()
    })
    expect(renders.length).toBe(count)
    act(() => root.unmount())
  })

  it('unsubscribes on unmount', async () => {
    auth = createAuthClient({ baseUrl: BASE_URL, crossTab: false })
    const { renders, root } = render(auth)
    act(() => root.unmount())
    const count = renders.length
    await auth.login(ADA)
    expect(renders.length).toBe(count)
  })

  it('renders logged out on the server (SSR snapshot)', async () => {
    auth = createAuthClient({ baseUrl: BASE_URL, crossTab: false })
    await auth.login(ADA)
    function Probe() {
      return createElement('span', null, useSession(auth) ? 'in' : 'out')
    }
    expect(renderToString(createElement(Probe))).toBe('<span>out</span>')
  })
})
