import fc from 'fast-check'
import { http, HttpResponse } from 'msw'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createAuthClient, memoryStorage, type AuthClient, type TokenStorage } from '../src/index.js'
import { GRACE_MS } from '../src/sessionPolicy.js'
import type { MockAuthServer } from '../src/testing/mockAuthServer.js'
import { BASE_URL, createFakeLocks, useMockAuthServer } from './helpers.js'

// Model-based test of the session policies (idleTimeoutMs, maxSessionMs) across 2 or 3 tabs.
//
// The tabs are clients with crossTab: true, sharing fake Web Locks and the page's BroadcastChannel,
// on one shared storage (localStorage-like) or on one storage each that survives the tab's reload
// (sessionStorage-like). fast-check draws commands: activity in tab i (auth.extendSession() there:
// all simulated tabs share one document, so a document event reaches every tab; 'doc' dispatches
// one), time passing (timer by timer, so every tab message lands before the next timer fires, as
// in a browser where a message takes far less than the 1 s grace), a sleep (the clock jumps, no
// timer runs; optionally the page gets focus on wake), auth.fetch / getAccessToken / refresh in tab
// i, a reload of tab i (destroy + a new client on the same storage; with `hide` the page is hidden
// first, as a real unload does), login and logout in tab i.
//
// The model keeps, for each session (a login: a refresh-token family at the mock server), its login
// time, its birth (read from the record the login stored), and L, the last activity that counted:
// activity at t counts when the session is live in the model and t < min(L + idle, born + max)
// (activity after the idle end, even inside the grace second, must not bring it back). Then:
//   END(S) = min(L + idleTimeoutMs + GRACE_MS, born + maxSessionMs)
// Invariants, checked after every command:
//  (a) no request (API call through auth.fetch, token handed out by getAccessToken, refresh token
//      sent to /auth/refresh) carries a session's token at a time past END(S) + SLACK_MS, nor after
//      the first sign (any tab) that the session ended;
//  (b) a session ends for 'idle' only at T >= L + idleTimeoutMs, for 'max-age' only at T >= born + max:
//      never while some activity happened less than idleTimeoutMs ago;
//  (c) once ended, no tab holds it again, no storage holds its tokens, and none of its refresh
//      tokens is 'current' at the server (rotated or revoked);
//  (d) every tab that held it ends it within BOUND_MS of the first (in fake time the message of
//      the first lands before the clock moves on; 50 ms is far above a browser's channel delay);
//  (e) every tab reports the same reason, and the right one: 'max-age' when born + max <= L + idle,
//      'idle' when born + max >= L + idle + GRACE_MS (in between, either);
//  (f) while the timers run (no sleep since the last wake), a live session is held by every tab
//      before END(S), and ended by every tab by END(S) + SLACK_MS; a tab that wakes (or reloads)
//      past END(S) first asks the others, so by the wake + GRACE_MS + SLACK_MS.
// SLACK_MS: a login's birth is its generation, max(now, tab clock + 1): at most a few ms past the
// wall clock when several changes fall in one millisecond; 10 ms covers that.
//
// CI runs 50 cases from a fixed seed (about 1 s). To search: POLICY_MODEL_RUNS=600
// POLICY_MODEL_SEED=<n>, POLICY_MODEL_LENGTH (commands, 20), POLICY_MODEL_STORAGE=shared|tab,
// POLICY_MODEL_DEBUG=1 (each run's trace), POLICY_MODEL_STATS=1, POLICY_MODEL_REPLAY='[config,
// commands]' (one case, as printed; leave out keys that are undefined).
// At 531f735 it finds, each kept as a failing regression in test/sessionPolicyProbes/:
//  - seeds 5, 8, 10 (storage 'tab'): restoreFromOwnStorageKeepsTheOtherTabsActivity.test.ts;
//  - seed 7: maxAgeEndsOnTimeWhenIdleEndIsJustBefore.test.ts (look past it: POLICY_MODEL_KNOWN=max-age-grace);
//  - activityAfterSleepCountsUntilTheRealEnd.test.ts (2), from an earlier generator; replay
//    '[{"tabs":2,"idle":3000,"lifetimeSec":8,"storage":"shared"},[{"op":"sleep","ms":2501,"wake":false},
//    {"op":"doc"},{"op":"reload","tab":0,"hide":false},{"op":"elapse","ms":1439}]]'
//    (look past it: POLICY_MODEL_KNOWN=sleep-unshared ends every sleep with a focus event).
// With storage 'shared' and those defects tolerated, some 30,000 runs (many seeds, up to 30
// commands) found nothing more. Seeds 1-4, 6, 9 pass 600 runs as they are.

const { server, configure } = useMockAuthServer()

/** Requests in flight (through the global fetch, which MSW patched), with their URLs. */
const inFlight = new Map<number, string>()
let requestSerial = 0
beforeEach(() => {
  inFlight.clear()
  const patched = globalThis.fetch
  vi.stubGlobal('fetch', (input: RequestInfo | URL, init?: RequestInit) => {
    const id = ++requestSerial
    inFlight.set(id, `${init?.method ?? 'GET'} ${String(input instanceof Request ? input.url : input)} @${Date.now() - START}`)
    // A request the client gave up on counts as finished, whether or not the mock ever answers.
    init?.signal?.addEventListener('abort', () => inFlight.delete(id))
    return patched(input, init).finally(() => inFlight.delete(id))
  })
})
/** Lets every request in flight finish and every message land, without moving the clock. */
async function settle(): Promise<void> {
  // Bounded in real time, not in turns: WebCrypto signs on a worker thread, slow on a busy machine.
  const started = performance.now()
  for (let quiet = 0; quiet < 10; ) {
    await vi.advanceTimersByTimeAsync(0)
    await new Promise((resolve) => setImmediate(resolve))
    quiet = inFlight.size === 0 ? quiet + 1 : 0
    if (performance.now() - started > 10_000) throw new Error(`harness: requests still in flight after 10 s: ${[...inFlight.values()]}`)
  }
}
const API = `${BASE_URL}/api/me`
const ADA = { username: 'ada', password: 'lovelace' }
const START = 1_800_000_000_000
const SLACK_MS = 10
/** Known defects the model tolerates when asked (never in CI), to look past them for the next one. */
const known = new Set((process.env.POLICY_MODEL_KNOWN ?? '').split(',').filter(Boolean))
const BOUND_MS = 50

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: START })
})
afterEach(() => {
  vi.useRealTimers()
})

type Command =
  | { op: 'act'; tab: number }
  | { op: 'doc' }
  | { op: 'elapse'; ms: number }
  | { op: 'sleep'; ms: number; wake: boolean }
  | { op: 'fetch' | 'token' | 'refresh' | 'login' | 'logout'; tab: number }
  | { op: 'reload'; tab: number; hide: boolean }

interface Config {
  tabs: number
  idle: number
  max: number | undefined
  warning: number | undefined
  lifetimeSec: number
  storage: 'shared' | 'tab'
}

/** The fake clock's next timer, to move time timer by timer. */
function nextTimerAt(): number {
  const timers = (Date as unknown as { clock?: { timers?: Record<string, { callAt: number }> } }).clock?.timers ?? {}
  let next = Infinity
  for (const id in timers) next = Math.min(next, timers[id]!.callAt)
  return next
}

/** Moves the clock `ms`, one timer at a time, letting every request and message land after each. */
async function advance(ms: number): Promise<void> {
  const target = Date.now() + ms
  for (let guard = 0; guard < 20_000; guard++) {
    const next = nextTimerAt()
    if (next > target) break
    await vi.advanceTimersByTimeAsync(Math.max(0, next - Date.now()))
    await settle()
  }
  if (target > Date.now()) await vi.advanceTimersByTimeAsync(target - Date.now())
  await settle()
}

/** Lets `promise` finish, moving time in small steps if it waits on a timer (a tab sync, a lock). */
async function drive<T>(promise: Promise<T>, limitMs = 3_000): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let result: { ok: true; value: T } | { ok: false; error: unknown } | undefined
  promise.then(
    (value) => (result = { ok: true, value }),
    (error: unknown) => (result = { ok: false, error }),
  )
  await settle()
  for (let spent = 0; !result && spent < limitMs; spent += 20) await advance(20)
  if (!result) throw new Error(`harness: a call still pending after ${limitMs} ms of fake time`)
  return result
}

interface ModelSession {
  family: number
  loginAt: number
  born: number
  /** The last activity that counts. */
  last: number
  end?: { seq: number; at: number; why: string }
  /** Every tab's end of it: [tab, at, why]. */
  ends: [number, number, string][]
}

interface Tab {
  id: number
  client: AuthClient
  storage: TokenStorage
  held: number | undefined
  /** The session its storage held when it opened: the one its restore may end at once. */
  restoring: number | undefined
  /** Why its session is about to end (session-expired or logout, just before its change event). */
  pending: string | undefined
}

let serial = 0
const stats: { runs: number; commands: number; uses: number; warnings: number; extended: number; [why: string]: number } = { runs: 0, commands: 0, uses: 0, warnings: 0, extended: 0 }

async function runModel(config: Config, commands: Command[]): Promise<void> {
  serial++
  const storageKey = `policy-model-${serial}`
  server.resetHandlers()
  const mock: MockAuthServer = configure({ accessTokenLifetimeSec: config.lifetimeSec })
  const trace: string[] = []
  let seq = 0
  const sessions = new Map<number, ModelSession>()
  let current: ModelSession | undefined
  let sleeping = false
  /** When a tab last woke or reloaded: past an end, it asks the others for GRACE_MS first. */
  let wokeAt = 0
  let ambiguous = false
  const violations: string[] = []
  const violate = (message: string): void => void violations.push(message)
  const familyOf = (token: string | null | undefined): number | undefined =>
    token ? mock.issued().find((tokens) => tokens.accessToken === token || tokens.refreshToken === token)?.family : undefined
  const endOf = (session: ModelSession): number => {
    const idleEnd = session.last + config.idle
    const ageEnd = config.max === undefined ? Infinity : session.born + config.max
    // POLICY_MODEL_KNOWN=max-age-grace tolerates a known defect, to look for the next one.
    if (known.has('max-age-grace') && ageEnd > idleEnd && ageEnd < idleEnd + GRACE_MS) return idleEnd + GRACE_MS
    return Math.min(idleEnd + GRACE_MS, ageEnd)
  }
  const now = (): number => Date.now() - START

  /** A use of a session's token at this moment: checked against invariant (a). */
  const use = (what: string, token: string | null | undefined): void => {
    const family = familyOf(token)
    if (family === undefined) return
    const at = Date.now()
    const session = sessions.get(family)
    trace.push(`@${now()} use:${what}:f${family}`)
    if (!session) return violate(`(a) ${what} with family ${family}, a session the model never saw`)
    const bound = endOf(session)
    if (at > bound + SLACK_MS) violate(`(a) ${what} with f${family} at +${at - bound} ms past its end (last activity ${session.last - START}, born ${session.born - START})`)
    if (session.end) violate(`(a) ${what} with f${family} after it ended (${session.end.why} at ${session.end.at - START})`)
  }

  server.use(
    http.get(API, ({ request }) => {
      const authorization = request.headers.get('authorization')
      use('api', authorization?.replace(/^Bearer /, ''))
      return HttpResponse.json({ ok: true })
    }),
    http.post(`${BASE_URL}/auth/refresh`, async ({ request }) => {
      const body = (await request.clone().json().catch(() => ({}))) as { refreshToken?: string }
      use('refresh-request', body.refreshToken)
      return undefined // on to the mock server
    }),
  )

  const locks = createFakeLocks()
  const shared = memoryStorage()
  const tabs: Tab[] = []
  const options = {
    baseUrl: BASE_URL,
    storageKey,
    locks,
    crossTab: true,
    lockTimeoutMs: 300,
    tabSyncTimeoutMs: 50,
    idleTimeoutMs: config.idle,
    maxSessionMs: config.max,
    ...(config.warning !== undefined && { sessionWarningMs: config.warning }),
  }
  const storedFamily = (storage: TokenStorage): number | undefined => {
    const raw = storage.getItem(storageKey) as string | null
    return raw ? familyOf((JSON.parse(raw) as { refreshToken?: string }).refreshToken) : undefined
  }

  /** Records an end of `family` in tab `tab` (first sign of it from any tab ends it in the model). */
  const ended = (tab: Tab, family: number, why: string): void => {
    const at = Date.now()
    const session = sessions.get(family)
    trace.push(`@${now()} tab${tab.id}:end:f${family}:${why}`)
    if (!session) return violate(`tab ${tab.id} ended f${family}, a session the model never saw`)
    session.ends.push([tab.id, at, why])
    if (session.end) return
    session.end = { seq: ++seq, at, why }
    if (why === 'idle' || why === 'max-age') {
      // (b): never while activity happened less than idleTimeoutMs ago, never before the max age.
      if (why === 'idle' && at < session.last + config.idle) violate(`(b) f${family} ended idle at ${at - START}, ${session.last + config.idle - at} ms before the idle limit (last activity ${session.last - START})`)
      if (why === 'max-age' && (config.max === undefined || at < session.born + config.max)) violate(`(b) f${family} ended max-age at ${at - START}, before born ${session.born - START} + ${config.max}`)
      // (e): the right reason.
      const idleEnd = session.last + config.idle
      const ageEnd = config.max === undefined ? Infinity : session.born + config.max
      const expected = ageEnd <= idleEnd ? 'max-age' : ageEnd >= idleEnd + GRACE_MS ? 'idle' : undefined
      if (expected && why !== expected) violate(`(e) f${family} ended with reason ${why}, expected ${expected} (idle end ${idleEnd - START}, age end ${ageEnd - START})`)
    } else if (why !== 'logout' && why !== 'replaced') {
      violate(`f${family} ended in tab ${tab.id} for ${why}: not a policy end, a logout or a newer login`)
    }
  }

  const open = (id: number, storage: TokenStorage): Tab => {
    const tab: Tab = { id, client: createAuthClient({ ...options, storage }), storage, held: undefined, restoring: storedFamily(storage), pending: undefined }
    const { client } = tab
    client.on('session-expired', ({ reason }) => {
      tab.pending = reason
      trace.push(`@${now()} tab${id}:expired:${reason}`)
    })
    client.on('logout', () => (tab.pending = 'logout'))
    client.on('session-warning', ({ reason, expiresAt }) => trace.push(`@${now()} tab${id}:warning:${reason}:${expiresAt - START}`))
    client.on('session-extended', ({ expiresAt }) => trace.push(`@${now()} tab${id}:extended:${expiresAt - START}`))
    client.on('error', (error) => trace.push(`@${now()} tab${id}:error:${error.code}`))
    client.on('change', (session) => {
      const family = familyOf(session?.accessToken)
      const before = tab.held
      trace.push(`@${now()} tab${id}:change:${family === undefined ? 'null' : `f${family}`}`)
      if (before !== undefined && before !== family) ended(tab, before, tab.pending ?? (family !== undefined ? 'replaced' : 'unexplained'))
      // A session that ends at its restore (events of the restore suppressed) has its end only.
      else if (before === undefined && family === undefined && tab.pending && (tab.restoring ?? current)) ended(tab, tab.restoring ?? current!.family, tab.pending)
      tab.pending = undefined
      tab.held = family
    })
    return tab
  }

  const describeRun = (): string => `config ${JSON.stringify(config)}\ncommands ${JSON.stringify(commands)}\ntrace:\n  ${trace.slice(-120).join('\n  ')}`

  /** Every invariant, once the tabs settled. */
  const check = (where: string): void => {
    const issued = mock.issued()
    for (const tab of tabs) {
      const family = familyOf(tab.client.getSession()?.accessToken)
      // A session restored quietly (expired token, renewed later) emits no change: follow it here.
      if (family !== undefined && tab.held === undefined) tab.held = family
      if (family === undefined && tab.held !== undefined) violate(`tab ${tab.id} dropped f${tab.held} without an event`)
    }
    for (const session of sessions.values()) {
      const { family } = session
      if (session.end) {
        // (c) no tab, no storage, no live refresh token at the server.
        for (const tab of tabs) if (familyOf(tab.client.getSession()?.accessToken) === family) violate(`(c) tab ${tab.id} holds f${family} after it ended (${session.end.why})`)
        const storages = config.storage === 'shared' ? [shared] : tabs.map((tab) => tab.storage)
        if (storages.some((storage) => storedFamily(storage) === family)) violate(`(c) storage holds f${family} after it ended`)
        const live = issued.filter((tokens) => tokens.family === family && tokens.status === 'current')
        if (live.length) violate(`(c) f${family} ended (${session.end.why}) but its refresh token is still current at the server`)
        // (d) every tab within BOUND_MS of the first; (e) the same reason everywhere.
        if (session.end.why === 'idle' || session.end.why === 'max-age') {
          const late = session.ends.filter(([, at]) => at - session.end!.at > BOUND_MS)
          if (late.length) violate(`(d) f${family}: tabs ${late.map(([tab, at]) => `${tab}@+${at - session.end!.at}`)} ended late`)
          const reasons = new Set(session.ends.map(([, , why]) => why))
          if (reasons.size > 1) violate(`(e) f${family}: tabs report ${[...reasons]}`)
        }
      } else if (session === current && !sleeping && !ambiguous) {
        // (f) held everywhere before its end, gone by its end.
        const end = endOf(session)
        if (Date.now() < end) {
          const missing = tabs.filter((tab) => familyOf(tab.client.getSession()?.accessToken) !== family)
          if (missing.length) violate(`(f) f${family} is live (end ${end - START}) but tabs ${missing.map((tab) => tab.id)} do not hold it`)
        } else if (Date.now() > Math.max(end, wokeAt + GRACE_MS) + SLACK_MS) {
          violate(`(f) f${family} is still held ${Date.now() - end} ms past its end ${end - START} (last activity ${session.last - START}, born ${session.born - START})`)
        }
      }
    }
    if (violations.length && !ambiguous) throw new Error(`${where}: ${violations.join('; ')}\n${describeRun()}`)
  }

  /** Activity at this moment: counts when the session is live and before its idle (and age) end. */
  const activity = (label: string): void => {
    const session = current
    trace.push(`@${now()} ${label}`)
    if (!session || session.end) return
    const at = Date.now()
    const ageEnd = config.max === undefined ? Infinity : session.born + config.max
    // A reloaded tab reads the login's record (no `active` yet) and starts from its birth, which may
    // be a few ms past the login: activity in between would count there and not elsewhere.
    if (session.last === session.loginAt && session.born !== session.loginAt && Math.abs(at - (session.last + config.idle)) <= session.born - session.loginAt + 1) ambiguous = true
    if (at < Math.min(session.last + config.idle, ageEnd)) session.last = at
  }

  try {
    for (let index = 0; index < config.tabs; index++) {
      tabs.push(open(index, config.storage === 'shared' ? shared : memoryStorage()))
    }
    await drive(Promise.all(tabs.map((tab) => tab.client.ready)))
    for (const [index, command] of [{ op: 'login', tab: 0 } as Command, ...commands].entries()) {
      const where = `after command ${index} ${JSON.stringify(command)} at ${now()}`
      const tab = 'tab' in command ? tabs[command.tab % tabs.length]! : undefined
      trace.push(`@${now()} > ${JSON.stringify(command)}`)
      switch (command.op) {
        case 'act':
          if (tab!.client.getSession()) activity(`act tab${tab!.id}`)
          tab!.client.extendSession()
          await settle()
          break
        case 'doc':
          activity('doc')
          document.dispatchEvent(new Event('pointerdown'))
          await settle()
          break
        case 'elapse':
          await advance(command.ms)
          break
        case 'sleep':
          vi.setSystemTime(Date.now() + command.ms)
          sleeping = true
          if (command.wake || known.has('sleep-unshared')) {
            window.dispatchEvent(new Event('focus'))
            sleeping = false
            wokeAt = Date.now()
          }
          await settle()
          break
        case 'fetch': {
          await drive(tab!.client.fetch(API))
          break
        }
        case 'token': {
          const result = await drive(tab!.client.getAccessToken())
          if (result.ok) use('getAccessToken', result.value)
          break
        }
        case 'refresh':
          await drive(tab!.client.refresh())
          break
        case 'login': {
          // A logout in a tab that holds no session is told to no one, and ends a login another tab
          // makes in the same millisecond (its birth ties with that logout): a core rule about
          // ties, outside this test's subject, and out of a user's reach. A user's two clicks in two
          // tabs are more than 20 ms apart; and then, the clocks ahead of the wall clock by a few
          // changes made in one millisecond, the login comes after it.
          await advance(20)
          const previous = current
          const result = await drive(tab!.client.login(ADA))
          if (!result.ok) {
            trace.push(`@${now()} login failed: ${String(result.error)}`)
            break
          }
          const family = familyOf(result.value.accessToken)!
          const raw = (config.storage === 'shared' ? shared : tab!.storage).getItem(storageKey) as string | null
          const born = raw ? (JSON.parse(raw) as { born: number }).born : Date.now()
          const loginAt = Date.now()
          if (born < loginAt - 100 || born > loginAt + SLACK_MS) violate(`login f${family}: born ${born - START} is not its login time ${loginAt - START}`)
          current = { family, loginAt, born, last: loginAt, ends: [] }
          sessions.set(family, current)
          sleeping = false
          if (previous && !previous.end) trace.push(`f${previous.family} replaced`)
          break
        }
        case 'logout':
          await drive(tab!.client.logout())
          break
        case 'reload': {
          if (command.hide) {
            Object.defineProperty(document, 'hidden', { value: true, configurable: true })
            document.dispatchEvent(new Event('visibilitychange'))
            delete (document as { hidden?: boolean }).hidden
            await settle()
          }
          tab!.client.destroy()
          const index = tabs.indexOf(tab!)
          tabs[index] = open(tab!.id, tab!.storage)
          wokeAt = Date.now()
          await drive(tabs[index]!.client.ready)
          sleeping = false
          break
        }
      }
      await settle()
      check(where)
      if (ambiguous) return
    }
  } finally {
    if (process.env.POLICY_MODEL_DEBUG) console.log(describeRun())
    if (process.env.POLICY_MODEL_STATS) {
      const count = (pattern: RegExp) => trace.filter((line) => pattern.test(line)).length
      stats.runs++
      stats.commands += count(/ > /)
      stats.uses += count(/ use:/)
      for (const why of ['idle', 'max-age', 'logout', 'replaced']) stats[why] = (stats[why] ?? 0) + count(new RegExp(`:end:f\\d+:${why}$`))
      stats.warnings += count(/:warning:/)
      stats.extended += count(/:extended:/)
    }
    for (const tab of tabs) tab.client.destroy()
    await settle()
    vi.clearAllTimers()
  }
}

const tab = fc.nat(2)
const commandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('act' as const), tab }), weight: 4 },
  { arbitrary: fc.constant({ op: 'doc' as const }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('elapse' as const), ms: fc.oneof(fc.integer({ min: 1, max: 1_500 }), fc.integer({ min: 1, max: 12_000 })) }), weight: 6 },
  { arbitrary: fc.record({ op: fc.constant('sleep' as const), ms: fc.integer({ min: 1, max: 30_000 }), wake: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constantFrom('fetch' as const, 'token' as const, 'refresh' as const), tab }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('reload' as const), tab, hide: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('login' as const), tab }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('logout' as const), tab }), weight: 1 },
)
const configArbitrary: fc.Arbitrary<Config> = fc.record({
  tabs: fc.constantFrom(2, 3),
  idle: fc.constantFrom(3_000, 8_000),
  max: fc.constantFrom(undefined, 6_000, 20_000),
  warning: fc.constantFrom(undefined, 1_000),
  lifetimeSec: fc.constantFrom(8, 30),
  storage: fc.constantFrom(...((process.env.POLICY_MODEL_STORAGE?.split(',') ?? ['shared', 'tab']) as Config['storage'][])),
})

describe('session policies across tabs (model-based)', () => {
  it('in any order of activity, time, sleep, requests, reloads, logins and logouts, the invariants (a)-(f) hold', async () => {
    // POLICY_MODEL_REPLAY='[config, commands]' (a counterexample as printed) runs that case alone.
    if (process.env.POLICY_MODEL_REPLAY) return runModel(...(JSON.parse(process.env.POLICY_MODEL_REPLAY) as [Config, Command[]]))
    await fc.assert(
      fc.asyncProperty(configArbitrary, fc.array(commandArbitrary, { minLength: 1, maxLength: Number(process.env.POLICY_MODEL_LENGTH ?? 20), size: 'max' }), runModel),
      {
        numRuns: Number(process.env.POLICY_MODEL_RUNS ?? 50),
        seed: Number(process.env.POLICY_MODEL_SEED ?? 531_735),
        ...(process.env.POLICY_MODEL_PATH && { path: process.env.POLICY_MODEL_PATH }),
      },
    )
    if (process.env.POLICY_MODEL_STATS) console.log(JSON.stringify(stats))
  }, 120_000)
})
