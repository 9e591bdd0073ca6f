// @vitest-environment node
import { expect, it } from 'vitest'
import { describeInEngines, openTestPage, reloadTestPage, useBrowserSuite, useContextPerTest, type TestPage as Page } from './harness.js'

// A seeded random walk of tab life: tabs open, close and reload, users log in and out, time passes
// while the tokens (3 s) are refreshed silently. After every step, once the tabs settle, every open
// tab must hold the session a simple model predicts: the last login's, or none, with a token that has
// not expired. The walk is the same for both storages; only what the model predicts differs (memory
// lives only in open tabs). Nothing in the walk ends a session but a logout, or closing every tab
// with memory storage, which tells nobody: so the server never sees a refresh token twice, and
// session-expired never fires.
//
// TABLIFE_SEED=<n> walks another seed; TABLIFE_STEPS="open A; login A ada; wait 800; ..." replays
// the steps given (a failure prints both).

const SEED = process.env.TABLIFE_SEED ? Number(process.env.TABLIFE_SEED) : 28
const REPLAY = process.env.TABLIFE_STEPS
const STEP_COUNT = 36
const MAX_TABS = 4
const LIFETIME_S = 3
// At most half of the shortest lifetime the client can see (the JWT's whole-second `exp` may cut up
// to a second off), so every tab refreshes exactly this long before its token's `expiresAt`.
const MARGIN_MS = 800
const SETTLE_MS = 5_000
const USERS = { ada: 'lovelace', grace: 'hopper' } as const
type User = keyof typeof USERS

type Step =
  | { do: 'open' | 'close' | 'reload' | 'logout'; tab: string }
  | { do: 'login'; tab: string; user: User }
  | { do: 'wait'; ms: number }

const format = (step: Step): string =>
  step.do === 'wait' ? `wait ${step.ms}` : step.do === 'login' ? `login ${step.tab} ${step.user}` : `${step.do} ${step.tab}`

function parse(text: string): Step[] {
  return text
    .split(';')
    .map((part) => part.trim().split(/\s+/))
    .filter((words) => words[0])
    .map(([verb, arg, user]) => {
      if (verb === 'wait' && Number(arg) >= 0) return { do: 'wait', ms: Number(arg) }
      if (verb === 'login' && arg && user && user in USERS) return { do: 'login', tab: arg, user: user as User }
      if ((verb === 'open' || verb === 'close' || verb === 'reload' || verb === 'logout') && arg) return { do: verb, tab: arg }
      throw new Error(`TABLIFE_STEPS: cannot read "${[verb, arg, user].filter(Boolean).join(' ')}"`)
    })
}

/** mulberry32: a tiny seeded PRNG, enough to pick steps reproducibly. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/**
 * The steps of one walk. Which tabs are open depends on the steps alone, so the whole walk is known
 * up front. Logged out, it leans to logging in; logged in (as memory storage would be), to waiting,
 * so that sessions live through silent refreshes.
 */
function plan(seed: number, count: number): Step[] {
  const random = mulberry32(seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
  const open: string[] = []
  let opened = 0
  let loggedIn = false
  const steps: Step[] = []
  while (steps.length < count) {
    const weights: [Step['do'], number][] =
      open.length === 0
        ? [['open', 3], ['wait', 1]]
        : [
            ['open', open.length < MAX_TABS ? 2.5 : 0],
            ['close', 1.5],
            ['reload', 3],
            ['login', loggedIn ? 1 : 4],
            ['logout', loggedIn ? 1.5 : 0.5],
            ['wait', loggedIn ? 5 : 1],
          ]
    let roll = random() * weights.reduce((sum, [, weight]) => sum + weight, 0)
    const kind = weights.find(([, weight]) => (roll -= weight) < 0)![0]
    if (kind === 'wait') {
      steps.push({ do: 'wait', ms: 400 + 100 * Math.floor(random() * 32) }) // 0.4 to 3.5 s
    } else if (kind === 'open') {
      const tab = opened < 26 ? String.fromCharCode(65 + opened) : `T${opened}`
      opened++
      open.push(tab)
      steps.push({ do: 'open', tab })
    } else {
      // Half the logins happen in the newest tab, as a user who opens a tab to log in there.
      const tab = kind === 'login' && random() < 0.5 ? open.at(-1)! : pick(open)
      if (kind === 'close') open.splice(open.indexOf(tab), 1)
      if (kind === 'login' || kind === 'logout') loggedIn = kind === 'login'
      else if (open.length === 0 || (kind === 'reload' && open.length === 1)) loggedIn = false
      steps.push(kind === 'login' ? { do: 'login', tab, user: pick(Object.keys(USERS) as User[]) } : { do: kind, tab })
    }
  }
  return steps
}

/** What the test reads from a tab. */
interface TabView {
  token: string | null
  sub?: string
  sid?: string
  expiresAt?: number
  expired: number
  /** The last events, for the failure message. */
  recent: string
}

const viewOf = (page: Page): Promise<TabView> =>
  page.evaluate(() => {
    const session = window.auth.getSession()
    const claims = (session?.claims ?? {}) as { sub?: string; sid?: string }
    return {
      token: session?.accessToken ?? null,
      sub: claims.sub,
      sid: claims.sid,
      expiresAt: session?.expiresAt,
      expired: window.events.filter((event) => event.type === 'session-expired').length,
      recent: window.events
        .slice(-8)
        .map((event) => event.type + (event.code ? `(${event.code})` : ''))
        .join(','),
    }
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const short = (id: string | undefined) => id?.slice(0, 8) ?? '?'

describeInEngines('tab life, a seeded random walk,', (engine) => {
  const suite = useBrowserSuite(engine)
  const context = useContextPerTest(suite)
  const steps = REPLAY ? parse(REPLAY) : plan(SEED, STEP_COUNT)
  const origin = REPLAY ? `the ${steps.length} steps of TABLIFE_STEPS` : `${steps.length} steps of seed ${SEED}`

  it.each(['memory', 'local'])(
    `%s storage, ${origin}: every open tab holds the last login's session or none, no refresh token is reused and no session expires`,
    async (storage) => {
      suite.server.setLifetime(LIFETIME_S)
      const query = `refreshMarginMs=${MARGIN_MS}${storage === 'memory' ? '' : `&storage=${storage}`}`
      const tabs = new Map<string, Page>()
      /** The model: who is logged in, in which session (a login's refresh-token family), or null. */
      const model: { user: User | null; sid?: string } = { user: null }
      let expiredInGoneTabs = 0
      let done = 0

      const views = async () => Promise.all([...tabs].map(async ([name, page]) => [name, await viewOf(page)] as const))

      /** What differs from the model, or '' when every open tab agrees with it. */
      const mismatch = (seen: (readonly [string, TabView])[]): string => {
        const problems: string[] = []
        const { reuseDetected } = suite.server.stats
        if (reuseDetected) problems.push(`the server detected ${reuseDetected} reuse(s) of a refresh token`)
        const expired = seen.filter(([, view]) => view.expired).map(([name, view]) => `${name}×${view.expired}`)
        if (expiredInGoneTabs) expired.push(`closed or reloaded tabs×${expiredInGoneTabs}`)
        if (expired.length) problems.push(`session-expired fired (${expired.join(', ')})`)
        const describeTab = ([name, view]: readonly [string, TabView]) =>
          view.token === null ? `${name}: logged out` : `${name}: ${view.sub} in session ${short(view.sid)}`
        if (model.user === null) {
          const holding = seen.filter(([, view]) => view.token !== null)
          if (holding.length) problems.push(`every tab should be logged out, but ${holding.map(describeTab).join(', ')}`)
        } else {
          const wrong = seen.filter(([, view]) => view.sub !== model.user || view.sid !== model.sid)
          const stale = seen.filter(([, view]) => view.expiresAt !== undefined && view.expiresAt <= Date.now())
          if (wrong.length) {
            problems.push(`every tab should hold ${model.user}'s session ${short(model.sid)}, but ${wrong.map(describeTab).join(', ')}`)
          } else if (new Set(seen.map(([, view]) => view.token)).size > 1) {
            problems.push(`the tabs hold ${new Set(seen.map(([, view]) => view.token)).size} different access tokens of the session`)
          } else if (stale.length) {
            problems.push(`the session's access token expired unrefreshed in ${stale.map(([name]) => name).join(', ')}`)
          }
        }
        return problems.join('; ')
      }

      /** The error a failing walk throws: the seed, every step so far, what went wrong and where. */
      const failure = async (detail: string, cause?: unknown): Promise<Error> => {
        const seen = await views().catch(() => [])
        const held = (view: TabView) => (view.token === null ? 'logged out' : `${view.sub} ${short(view.sid)} …${view.token.slice(-6)}`)
        const tabLine = ([name, view]: readonly [string, TabView]) => `${name} [${held(view)}] events ${view.recent || '-'}`
        const lines = [
          `tab life walk, ${storage} storage, ${REPLAY ? 'TABLIFE_STEPS' : `seed ${SEED}`}: step ${done + 1} "${format(steps[done]!)}"`,
          `  ${detail}`,
          `steps so far:`,
          ...steps.slice(0, done + 1).map((step, i) => `  ${i === done ? '→' : ' '}${String(i + 1).padStart(3)}. ${format(step)}`),
          `model: ${model.user === null ? 'logged out' : `${model.user} in session ${short(model.sid)}`}`,
          `tabs: ${seen.map(tabLine).join('\n      ') || 'none open'}`,
          `server: ${JSON.stringify(suite.server.stats)}`,
          `replay: TABLIFE_STEPS="${steps.slice(0, done + 1).map(format).join('; ')}"`,
        ]
        return new Error(lines.join('\n'), { cause })
      }

      /** Waits until the tabs agree with the model; fails with what still differs. */
      const settle = async () => {
        let last = ''
        try {
          await expect.poll(async () => (last = mismatch(await views())), { timeout: SETTLE_MS, interval: 100 }).toBe('')
        } catch (error) {
          throw await failure(`not settled after ${SETTLE_MS} ms: ${last}`, error)
        }
      }

      /**
       * Waits for a moment when no refresh is on the wire or about to be sent. A tab closed while its
       * refresh request is out loses the rotated token, and the others cannot tell whether the server
       * rotated: with strict reuse detection, as here, that ends the session for a reason no client
       * can avoid. The walk tests what a client can do.
       */
      const quietMoment = async () => {
        const until = Date.now() + SETTLE_MS
        for (;;) {
          const { inFlight, lastAnsweredAt } = suite.server.refreshActivity
          const anyTab = tabs.values().next().value
          const expiresAt = anyTab && model.user ? (await viewOf(anyTab)).expiresAt : undefined
          const dueIn = expiresAt === undefined ? Infinity : expiresAt - MARGIN_MS - Date.now()
          if (inFlight === 0 && Date.now() - lastAnsweredAt > 300 && dueIn > 300) return
          if (Date.now() > until) {
            throw new Error(`no quiet moment in ${SETTLE_MS} ms: ${inFlight} refresh(es) in flight, the next refresh due in ${dueIn} ms`)
          }
          await sleep(50)
        }
      }

      /** Takes the tab's events with it, so a session-expired it saw is still counted. */
      const leave = async (page: Page) => {
        expiredInGoneTabs += (await viewOf(page)).expired
      }

      const tab = (name: string): Page => {
        const page = tabs.get(name)
        if (!page) throw new Error(`no open tab ${name}`)
        return page
      }

      const run = async (step: Step): Promise<void> => {
        switch (step.do) {
          case 'open': {
            if (tabs.has(step.tab)) throw new Error(`tab ${step.tab} is open already`)
            tabs.set(step.tab, await openTestPage(await context().newPage(), suite.server, query))
            return
          }
          case 'close': {
            const page = tab(step.tab)
            await quietMoment()
            await leave(page)
            tabs.delete(step.tab)
            await page.close()
            if (storage === 'memory' && tabs.size === 0) model.user = null
            return
          }
          case 'reload': {
            const page = tab(step.tab)
            await quietMoment()
            await leave(page)
            await reloadTestPage(page)
            if (storage === 'memory' && tabs.size === 1) model.user = null
            return
          }
          case 'login': {
            const sid = await tab(step.tab).evaluate(
              ([username, password]) =>
                window.auth.login({ username, password }).then((session) => (session.claims as { sid?: string }).sid),
              [step.user, USERS[step.user]] as const,
            )
            Object.assign(model, { user: step.user, sid })
            return
          }
          case 'logout': {
            await tab(step.tab).evaluate(() => window.auth.logout().then(() => undefined))
            Object.assign(model, { user: null, sid: undefined })
            return
          }
          case 'wait':
            await sleep(step.ms)
        }
      }

      for (; done < steps.length; done++) {
        try {
          await run(steps[done]!)
        } catch (error) {
          throw await failure(error instanceof Error ? error.message : String(error), error)
        }
        await settle()
      }
      expect(suite.server.stats.reuseDetected).toBe(0)
    },
    100_000,
  )
})
