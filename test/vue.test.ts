import { mount } from '@vue/test-utils'
import { createSSRApp, defineComponent, effectScope, h, isReadonly, nextTick, type ShallowRef } from 'vue'
import { renderToString } from 'vue/server-renderer'
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest'
import { createAuthClient, type AuthClient, type Session } from '../src/index.js'
import { useSession } from '../src/vue/index.js'
import { BASE_URL, useMockAuthServer } from './helpers.js'

const { mock } = useMockAuthServer()
const ADA = { username: 'ada', password: 'lovelace' }

let auth: AuthClient
afterEach(() => auth?.destroy())

/** A client whose `change` listeners are counted while subscribed. */
function countedClient() {
  auth = createAuthClient({ baseUrl: BASE_URL, crossTab: false })
  let active = 0
  const on = auth.on.bind(auth) as (type: string, listener: () => void) => () => void
  vi.spyOn(auth, 'on').mockImplementation(((type: string, listener: () => void) => {
    const off = on(type, listener)
    if (type === 'change') active++
    let subscribed = true
    return () => {
      if (subscribed && type === 'change') active--
      subscribed = false
      off()
    }
  }) as typeof auth.on)
  return { listeners: () => active }
}

/** Mounts a component that shows the session and records each value it rendered. */
function render(client: AuthClient) {
  const renders: (Session | null)[] = []
  const Probe = defineComponent({
    setup() {
      const session = useSession(client)
      return () => {
        renders.push(session.value)
        return h('span', session.value ? `hello ${String(session.value.claims.sub)}` : 'logged out')
      }
    },
  })
  return { wrapper: mount(Probe), renders }
}

describe('useSession (tokenkeeper/vue)', () => {
  it('re-renders on login, refresh and logout with the current session', async () => {
    countedClient()
    const { wrapper, renders } = render(auth)
    expect(wrapper.text()).toBe('logged out')
    const session = await auth.login(ADA)
    await nextTick()
    expect(wrapper.text()).toBe('hello ada')
    expect(renders.at(-1)).toBe(session)
    await auth.refresh()
    await nextTick()
    expect(renders.at(-1)).toBe(auth.getSession())
    expect(renders.at(-1)).not.toBe(session)
    await auth.logout()
    await nextTick()
    expect(wrapper.text()).toBe('logged out')
    expect(renders).toHaveLength(4)
    expect(mock().counts.refresh).toBe(1)
    wrapper.unmount()
  })

  it('starts from the session the client already has', async () => {
    countedClient()
    const session = await auth.login(ADA)
    const { wrapper, renders } = render(auth)
    expect(wrapper.text()).toBe('hello ada')
    expect(renders).toEqual([session])
    wrapper.unmount()
  })

  it('does not re-render when nothing changed: the value is the same object', async () => {
    countedClient()
    await auth.login(ADA)
    const { wrapper, renders } = render(auth)
    await auth.getAccessToken()
    await nextTick()
    expect(renders).toHaveLength(1)
    wrapper.unmount()
  })

  it('unsubscribes on unmount, and never updates after it', async () => {
    const { listeners } = countedClient()
    const { wrapper, renders } = render(auth)
    expect(listeners()).toBe(1)
    wrapper.unmount()
    expect(listeners()).toBe(0)
    await auth.login(ADA)
    await nextTick()
    expect(renders).toEqual([null])
  })

  it('works in an effectScope outside a component, and stopping the scope unsubscribes', async () => {
    const { listeners } = countedClient()
    const scope = effectScope()
    const session = scope.run(() => useSession(auth))!
    expect(session.value).toBeNull()
    expect(listeners()).toBe(1)
    const loggedIn = await auth.login(ADA)
    expect(session.value).toBe(loggedIn)
    scope.stop()
    expect(listeners()).toBe(0)
    await auth.logout()
    expect(session.value).toBe(loggedIn)
  })

  it('with no active scope it works, stays subscribed, and the development build warns', async () => {
    const { listeners } = countedClient()
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const session = useSession(auth)
    expect(warn).toHaveBeenCalledOnce()
    expect(String(warn.mock.calls[0]![0])).toMatch(/outside a component or effectScope/)
    const loggedIn = await auth.login(ADA)
    expect(session.value).toBe(loggedIn)
    expect(listeners()).toBe(1)
  })

  it('is read-only to the caller', async () => {
    countedClient()
    const session = await auth.login(ADA)
    const scope = effectScope()
    const ref = scope.run(() => useSession(auth))!
    expect(isReadonly(ref)).toBe(true)
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    // @ts-expect-error the value cannot be assigned
    ref.value = null
    expect(warn).toHaveBeenCalled()
    expect(ref.value).toBe(session)
    scope.stop()
  })

  it('is typed by the client’s claims', () => {
    const typed = createAuthClient<{ sub: string; role: 'admin' | 'user' }>({ baseUrl: BASE_URL, crossTab: false })
    const scope = effectScope()
    const ref = scope.run(() => useSession(typed))!
    expectTypeOf(ref).toEqualTypeOf<Readonly<ShallowRef<Session<{ sub: string; role: 'admin' | 'user' }> | null>>>()
    scope.stop()
    typed.destroy()
  })

  it('renders logged out on the server, and subscribes to nothing there', async () => {
    const { listeners } = countedClient()
    await auth.login(ADA)
    const Probe = defineComponent({
      setup() {
        const session = useSession(auth)
        return () => h('span', session.value ? 'in' : 'out')
      },
    })
    expect(await renderToString(createSSRApp(Probe))).toBe('<span>out</span>')
    expect(listeners()).toBe(0)
  })
})
