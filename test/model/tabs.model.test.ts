/**
 * Model-based test of the tabs of one origin (issue 11): fast-check drives 1 to 4 simulated tabs
 * through random sequences of opening (also as the page a login by redirect comes back to),
 * closing, reloading, logins (ada or grace), logouts,
 * refreshes, token reads, API calls, time leaps and server failures, and after every step checks
 * the rules of DESIGN.md "Session identity and order" through the public API only.
 *
 *   npm run test:model -- --runs 5000           more runs (default: MODEL_RUNS or 1000)
 *   npm run test:model -- --max-commands 60     longer sequences (default: MODEL_MAX_COMMANDS or 40)
 *   npm run test:model -- --seed 42 --path 3:1 --replay-path Bm:C
 *                                               replay a failure fast-check printed (its seed,
 *                                               path, and the replayPath in the counterexample)
 *
 * To look past a known defect while it is being fixed: MODEL_WITHOUT=loginTwice,logout (commands
 * left out) and MODEL_IGNORE=revoke,live (invariants set aside; names in harness.ts).
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, it } from 'vitest'
import type { RefreshFailure } from '../../src/testing/mockAuthServer.js'
import {
  captureUnhandledRejections,
  codeOf,
  createModelServer,
  expectations,
  LIFETIME_SEC,
  Violation,
  World,
  type Expectations,
  type StorageKind,
  type Tab,
  type User,
} from './harness.js'

/** About 12 s on a 2-core machine when every run passes (a failure adds its shrinking). */
const RUNS = Number(process.env.MODEL_RUNS ?? 1000)
const MAX_COMMANDS = Number(process.env.MODEL_MAX_COMMANDS ?? 40)
/** The seed of `npm test`'s runs. */
const FIXED_SEED = 20261129
/** How long a login or logout may take, in fake time, before it counts as hung. */
const USER_ACTION_MS = 30_000

const server = createModelServer()
const rejections = captureUnhandledRejections()
beforeAll(() => {
  server.listen({ onUnhandledRequest: 'error' })
  rejections.install()
})
afterAll(() => {
  // Settles are bounded at 10 s of real time; say so when a run came anywhere near.
  if (World.slowestSettleMs > 1_000) console.warn(`harness: the slowest settle took ${World.slowestSettleMs.toFixed(0)} ms of real time`)
  rejections.uninstall()
  server.close()
})

interface Model {
  storage: StorageKind
  tabs: number
  exp: Expectations
}

type Cmd = fc.AsyncCommand<Model, World>

/** The tab a slot names: slots wrap around the open tabs, so a command survives shrinking. */
const pick = (world: World, slot: number): Tab => world.open[slot % world.open.length]!

/** After every command: settle, give the step its fake-time budget, check. */
async function finish(model: Model, world: World): Promise<void> {
  await world.step()
  world.check(model.exp)
}

/** The tabs close and their memory goes: nothing holds the session any more (unless a late refresh hands it over). */
function abandonIfLast(model: Model, world: World): void {
  if (model.storage === 'shared' || world.open.length > 0 || model.exp.now.kind !== 'in') return
  const lost = model.exp.now
  model.exp.abandoned.add(lost.family)
  model.exp.now = { kind: 'out' }
  model.exp.alternatives = world.closedTabRefreshing() ? [lost] : []
}

class OpenTab implements Cmd {
  check = (m: Readonly<Model>) => m.tabs < 4
  async run(m: Model, w: World) {
    const tab = w.openTab()
    w.log(`${this} → tab ${tab.id}`)
    m.tabs++
    await finish(m, w)
  }
  toString = () => 'open'
}

/**
 * A tab opens as the page an identity provider sent back after `user` logged in there (OpenID
 * Connect): its client completes that login as it starts. It is the user's latest action, so it
 * wins, and the session it replaces must end revoked.
 */
class OpenFromRedirect implements Cmd {
  constructor(readonly user: User) {}
  check = (m: Readonly<Model>) => m.tabs < 4
  async run(m: Model, w: World) {
    // What the user was logged in with: what the open tabs hold, else what storage keeps for a new tab.
    const held = w.open[0]?.client.getSession()
    const replaced = held ? w.familyOf(held.accessToken) : w.open.length === 0 && m.exp.now.kind === 'in' ? m.exp.now.family : undefined
    const tab = w.openTab(undefined, this.user)
    // A session the restore found and the server refused (an injected invalid_grant) ended there: not superseded.
    let refused = false
    tab.client.on('session-expired', () => (refused = true))
    w.log(`${this} → tab ${tab.id}`)
    m.tabs++
    if (!(await w.driveUntil(() => tab.ready.state !== 'pending', USER_ACTION_MS))) throw new Violation('pending', `${tab.ready.label} still pending after ${USER_ACTION_MS} ms`)
    const session = tab.client.getSession()
    if (!session) throw new Error(`tab ${tab.id}: the login by redirect gave no session`)
    const family = w.familyOf(session.accessToken)!
    if (replaced !== undefined && replaced !== family && !refused) m.exp.mustRevoke.set(replaced, `superseded by the login by redirect of family ${family}`)
    m.exp.now = { kind: 'in', user: this.user, family }
    m.exp.alternatives = []
    w.log(`  → ${w.describeSession(session)}`)
    await finish(m, w)
  }
  toString = () => `openFromRedirect(${this.user})`
}

class CloseTab implements Cmd {
  constructor(readonly slot: number) {}
  check = (m: Readonly<Model>) => m.tabs > 0
  async run(m: Model, w: World) {
    const tab = pick(w, this.slot)
    w.log(`${this} → tab ${tab.id}`)
    w.close(tab)
    m.tabs--
    abandonIfLast(m, w)
    await finish(m, w)
  }
  toString = () => `close(${this.slot})`
}

class ReloadTab implements Cmd {
  constructor(readonly slot: number) {}
  check = (m: Readonly<Model>) => m.tabs > 0
  async run(m: Model, w: World) {
    const tab = pick(w, this.slot)
    w.close(tab)
    // sessionStorage survives the tab's reload: the reloaded tab restores what it kept.
    if (m.storage !== 'tab') abandonIfLast(m, w)
    const next = m.storage === 'tab' ? w.openTab(tab.storage) : w.openTab()
    w.log(`${this} → tab ${tab.id} becomes tab ${next.id}`)
    await finish(m, w)
  }
  toString = () => `reload(${this.slot})`
}

/** Makes the logins of one command, and sets the model to the last one made. */
async function logins(m: Model, w: World, tab: Tab, users: User[], wrongPassword: boolean, reversed = false): Promise<void> {
  const before = tab.client.getSession()
  const known = new Set(w.loginFamilies())
  const ops = users.map((user, index) => {
    if (reversed && index === 0) w.slowNextLogin(50)
    const op = w.login(tab, user, wrongPassword)
    // login() resolves to the session it stored: the tab must hold it at that moment.
    void op.promise.then(
      (session) => {
        if (tab.client.getSession() !== session) {
          w.violate('login', `${op.label} resolved with a session tab ${tab.id} does not hold (it holds ${w.describeSession(tab.client.getSession())})`)
        }
      },
      () => undefined,
    )
    return op
  })
  const settled = await w.driveUntil(() => ops.every((op) => op.state !== 'pending'), USER_ACTION_MS)
  if (!settled) throw new Violation('pending', `${ops.map((op) => op.label).join(', ')} still pending after ${USER_ACTION_MS} ms`)
  if (wrongPassword) {
    for (const op of ops) if (op.state !== 'rejected' || codeOf(op.error) !== 'invalid_credentials') throw new Error(`${op.label} with a wrong password: ${op.state} ${codeOf(op.error)}`)
    return
  }
  const last = ops[ops.length - 1]!
  if (last.state !== 'fulfilled') throw new Error(`${last.label} rejected: ${codeOf(last.error)}`)
  const family = w.familyOf(last.value!.accessToken)!
  // The logins this command made and lost, and the session it replaced, must end revoked.
  for (const made of w.loginFamilies()) if (!known.has(made) && made !== family) m.exp.mustRevoke.set(made, 'superseded by a later login() in the same tab')
  const replaced = before && w.familyOf(before.accessToken)
  if (replaced !== undefined && replaced !== null && replaced !== family) m.exp.mustRevoke.set(replaced, `superseded by the login of family ${family}`)
  m.exp.now = { kind: 'in', user: users[users.length - 1]!, family }
  m.exp.alternatives = []
  w.log(`  → ${w.describeSession(last.value!)}`)
}

class Login implements Cmd {
  constructor(readonly slot: number, readonly user: User, readonly wrongPassword: boolean) {}
  check = (m: Readonly<Model>) => m.tabs > 0
  async run(m: Model, w: World) {
    const tab = pick(w, this.slot)
    w.log(`${this} → tab ${tab.id}`)
    await logins(m, w, tab, [this.user], this.wrongPassword)
    await finish(m, w)
  }
  toString = () => `login(${this.slot}, ${this.user}${this.wrongPassword ? ', wrong password' : ''})`
}

/**
 * Two login() calls at once in one tab: the one made last wins, the other's tokens end revoked.
 * `reversed`: the first call's answer arrives after the second's.
 */
class DoubleLogin implements Cmd {
  constructor(readonly slot: number, readonly first: User, readonly second: User, readonly reversed: boolean) {}
  check = (m: Readonly<Model>) => m.tabs > 0
  async run(m: Model, w: World) {
    const tab = pick(w, this.slot)
    w.log(`${this} → tab ${tab.id}`)
    await logins(m, w, tab, [this.first, this.second], false, this.reversed)
    await finish(m, w)
  }
  toString = () => `loginTwice(${this.slot}, ${this.first}, ${this.second}${this.reversed ? ', answers reversed' : ''})`
}

class Logout implements Cmd {
  constructor(readonly slot: number) {}
  check = (m: Readonly<Model>) => m.tabs > 0
  async run(m: Model, w: World) {
    const tab = pick(w, this.slot)
    w.log(`${this} → tab ${tab.id}`)
    const before = tab.client.getSession()
    const op = w.track(`tab ${tab.id}: logout`, tab.client.logout())
    m.exp.now = { kind: 'out' }
    m.exp.alternatives = []
    const family = before && w.familyOf(before.accessToken)
    if (family !== undefined && family !== null) m.exp.mustRevoke.set(family, 'logged out')
    if (!(await w.driveUntil(() => op.state !== 'pending', USER_ACTION_MS))) throw new Violation('pending', `${op.label} still pending after ${USER_ACTION_MS} ms`)
    await finish(m, w)
  }
  toString = () => `logout(${this.slot})`
}

/** refresh(), getAccessToken() or fetch(API): started, not awaited, so later steps interleave with it. */
class Use implements Cmd {
  constructor(readonly slot: number, readonly what: 'refresh' | 'getAccessToken' | 'fetch') {}
  check = (m: Readonly<Model>) => m.tabs > 0
  async run(m: Model, w: World) {
    const tab = pick(w, this.slot)
    w.log(`${this} → tab ${tab.id}`)
    if (this.what === 'fetch') w.fetchApi(tab)
    else w.track<unknown>(`tab ${tab.id}: ${this.what}`, this.what === 'refresh' ? tab.client.refresh() : tab.client.getAccessToken())
    await finish(m, w)
  }
  toString = () => `${this.what}(${this.slot})`
}

class Advance implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true
  async run(m: Model, w: World) {
    w.log(`${this}`)
    await w.advance(this.ms)
    await finish(m, w)
  }
  toString = () => `advance(${this.ms / 1000} s)`
}

class Sleep implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true
  async run(m: Model, w: World) {
    w.log(`${this}`)
    await w.sleep(this.ms)
    await finish(m, w)
  }
  toString = () => `sleep(${this.ms / 1000} s, then visibilitychange)`
}

class Fail implements Cmd {
  constructor(readonly failure: RefreshFailure, readonly count: number) {}
  check = () => true
  async run(m: Model, w: World) {
    w.log(`${this}`)
    w.mock.failNextRefreshes(this.count, this.failure)
    await finish(m, w)
  }
  toString = () => `failNextRefreshes(${this.count}, ${JSON.stringify(this.failure)})`
}

class Slow implements Cmd {
  constructor(readonly ms: number, readonly count: number) {}
  check = () => true
  async run(m: Model, w: World) {
    w.log(`${this}`)
    w.slowNextRefreshes(this.ms, this.count)
    await finish(m, w)
  }
  toString = () => `slowNextRefreshes(${this.count}, ${this.ms} ms)`
}

const slot = fc.nat({ max: 3 })
const user = fc.constantFrom<User>('ada', 'grace')
const use = fc.constantFrom('refresh', 'getAccessToken', 'fetch') as fc.Arbitrary<'refresh' | 'getAccessToken' | 'fetch'>
/** Each command's generator, by name; some appear twice to be drawn more often. */
const generators: [string, fc.Arbitrary<Cmd>][] = [
  ['open', fc.constant(new OpenTab())],
  ['open', fc.constant(new OpenTab())],
  ['openFromRedirect', user.map((u) => new OpenFromRedirect(u))],
  ['close', slot.map((s) => new CloseTab(s))],
  ['reload', slot.map((s) => new ReloadTab(s))],
  [
    'login',
    fc
      .tuple(slot, user, fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }))
      .map(([s, u, wrong]) => new Login(s, u, wrong)),
  ],
  ['login', fc.tuple(slot, user).map(([s, u]) => new Login(s, u, false))],
  ['loginTwice', fc.tuple(slot, user, user, fc.boolean()).map(([s, a, b, reversed]) => new DoubleLogin(s, a, b, reversed))],
  ['logout', slot.map((s) => new Logout(s))],
  ['use', fc.tuple(slot, use).map(([s, what]) => new Use(s, what))],
  ['use', fc.tuple(slot, use).map(([s, what]) => new Use(s, what))],
  [
    'advance',
    fc
      .constantFrom(100, 2_000, 10_000, (LIFETIME_SEC - 59) * 1000 /* past the refresh margin */, (LIFETIME_SEC + 1) * 1000 /* past expiry */, 3_600_000)
      .map((ms) => new Advance(ms)),
  ],
  ['sleep', fc.constantFrom((LIFETIME_SEC + 1) * 1000, 3_600_000).map((ms) => new Sleep(ms))],
  [
    'fail',
    fc
      .tuple(
        fc.constantFrom<RefreshFailure>({ kind: 'server-error', status: 503 }, { kind: 'network-error' }, { kind: 'rate-limited', retryAfterSec: 2 }),
        fc.integer({ min: 1, max: 3 }),
      )
      .map(([failure, count]) => new Fail(failure, count)),
  ],
  ['refuse', fc.constant(new Fail({ kind: 'invalid_grant' }, 1))],
  ['slow', fc.tuple(fc.constantFrom(500, 2_000, 5_000), fc.integer({ min: 1, max: 2 })).map(([ms, count]) => new Slow(ms, count))],
]
/** `MODEL_WITHOUT=loginTwice,logout` leaves commands out, to look past a known defect. */
const without = new Set((process.env.MODEL_WITHOUT ?? '').split(',').filter(Boolean))
const commands = generators.filter(([name]) => !without.has(name)).map(([, generator]) => generator)

/** The trace of the last run that failed: after shrinking, the counterexample fast-check reports. */
let lastFailure: string[] = []

async function runModel(storage: StorageKind, seed: number, cmds: Iterable<Cmd>): Promise<void> {
  const world = World.start(server, storage, seed)
  const model: Model = { storage, tabs: 0, exp: expectations() }
  try {
    await fc.asyncModelRun(() => ({ model, real: world }), cmds)
    await world.quiesce(model.exp)
  } catch (error) {
    world.log(`FAILED: ${error instanceof Error ? error.message : String(error)}`)
    lastFailure = world.trace
    throw error
  } finally {
    await world.stop()
  }
}

describe('tabs of one origin, model-based (issue 11)', () => {
  it(`${RUNS} random sequences over 1 to 4 tabs keep one session everywhere, in order, with every refresh token accounted for`, async () => {
    // `npm test` explores the same sequences on every machine, so CI never fails on a sequence no
    // one has seen; `npm run test:model` draws a new seed each time to search further.
    const seed = process.env.MODEL_SEED !== undefined ? Number(process.env.MODEL_SEED) : process.env.MODEL_RANDOM ? undefined : FIXED_SEED
    const path = process.env.MODEL_PATH
    const replayPath = process.env.MODEL_REPLAY_PATH
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom<StorageKind>('memory', 'shared', 'tab'),
          fc.noShrink(fc.integer()) /* Math.random's seed */,
          fc.commands(commands, { maxCommands: MAX_COMMANDS, size: 'max', ...(replayPath === undefined ? {} : { replayPath }) }),
          runModel,
        ),
        { numRuns: RUNS, ...(seed === undefined ? {} : { seed }), ...(path === undefined ? {} : { path }) },
      )
    } catch (error) {
      // fast-check's message holds the seed, the path and the shrunk counterexample; add the trace.
      const report = `${error instanceof Error ? error.message : String(error)}\n\nTrace of the shrunk run:\n${lastFailure.join('\n')}`
      console.error(report)
      throw new Error(report, { cause: error })
    }
  }, 30 * 60_000)
})
