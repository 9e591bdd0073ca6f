import { jwtDecode, type JwtPayload } from 'jwt-decode'
import { AuthError } from './errors.js'
import { DEV } from './dev.js'

/**
 * The session the app sees. The refresh token is deliberately not on it.
 *
 * @example
 * ```ts
 * const session = auth.getSession()
 * if (session) console.log(session.claims.sub, new Date(session.expiresAt))
 * ```
 */
export interface Session<Claims = JwtPayload> {
  /** The access token, for the rare call that cannot go through `auth.fetch`. */
  readonly accessToken: string
  /** When the access token expires, in ms since the epoch on the local clock. */
  readonly expiresAt: number
  /**
   * The access token's decoded JWT payload; for an opaque access token, the ID token's (OpenID
   * Connect), else `{}`. Not verified by signature: display only.
   */
  readonly claims: Claims
}

/** What a protocol's login or refresh gives the client: the tokens as the server issued them.  *
 * @example
 * ```ts
 * return { accessToken: body.jwt, refreshToken: body.renewal, expiresInSec: body.ttl }
 * ```
 */
export interface TokenResponse {
  /** The access token, a JWT (its claims become the session's). */
  accessToken: string
  /** Absent when the server keeps it in an HttpOnly cookie, or gives none. */
  refreshToken: string | undefined
  /** `expires_in` in seconds, when the server sent it; else the access token's `exp` decides. */
  expiresInSec: number | undefined
  /** An OpenID Connect ID token, checked by the protocol: kept with the session, and its claims shown when the access token is opaque. */
  idToken?: string
}

/** The client's private state for one session: the public part plus what only the client holds. */
export interface SessionState<Claims> {
  readonly session: Session<Claims>
  readonly refreshToken: string | undefined
  readonly idToken?: string
  /** When the tokens arrived, local clock: with `expiresAt` it gives the token's lifetime. */
  readonly receivedAt: number
  /** The session's identity: made by a login, kept by every refresh, named by the logout that ends it. */
  readonly sid: string
  /** How many refreshes this session has had since its login. */
  readonly rotation: number
  /** Where this state stands in the order of changes across tabs (see sessionOrder.ts). */
  readonly gen: number
  /** The tab that made this state: it breaks ties between equal generations. */
  readonly tab: string
  /** The generation of the login that made the session: a logout made after it ends it. */
  readonly born: number
  /**
   * The user's last activity known (wall clock) when `idleTimeoutMs` is set. Not a change of the
   * session: sessionPolicy.ts updates it in place, and records carry it.
   */
  active?: number
  /** When the login was, on the wall clock: `maxSessionMs` counts from it. */
  readonly loginAt: number
}

/** The shape written to storage and sent to other tabs. Version it so a future format can tell old records apart. */
export interface SessionRecord {
  v: 1
  accessToken: string
  refreshToken?: string
  idToken?: string
  expiresAt: number
  receivedAt: number
  sid?: string
  rotation?: number
  gen?: number
  tab?: string
  born?: number
  active?: number
  loginAt?: number
}

/** A random id for a session or a tab: unique, not secret (`crypto.randomUUID` needs a secure context). */
export const randomId = (): string => Math.random().toString(36).slice(2) + Date.now().toString(36)

/**
 * The lifetimes taken from a server: one second to ten years. Beyond them the number is nonsense,
 * not a session: `expires_in: 1e308` gives an expiry of Infinity, which storage and timers cannot
 * hold, and `expires_in: 0.001` a token that is stale on arrival and renewed in a loop.
 */
const MIN_LIFETIME_MS = 1_000
const MAX_LIFETIME_MS = 10 * 365 * 24 * 3600 * 1000

/** A JWT's payload when it is a JSON object; undefined for anything else (an opaque token, junk). Not verified. */
export function decodeClaims(token: unknown): Record<string, unknown> | undefined {
  try {
    const claims = jwtDecode<unknown>(token as string)
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

const numeric = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined

/**
 * The token's lifetime in ms, or undefined when nothing says when it expires.
 *
 * `expires_in` counts from arrival on the local clock, so it is immune to a wrong client clock.
 * The JWT may only shorten it, and only through `exp - iat`, a difference of two server-clock
 * readings; `exp` alone is compared with the local clock only when nothing else is known.
 */
function lifetimeMs(
  expiresInSec: number | undefined,
  claims: Record<string, unknown>,
  now: number,
): number | undefined {
  const exp = numeric(claims.exp)
  const iat = numeric(claims.iat)
  const fromJwt = exp !== undefined && iat !== undefined ? (exp - iat) * 1000 : undefined
  if (expiresInSec !== undefined) {
    return fromJwt === undefined ? expiresInSec * 1000 : Math.min(expiresInSec * 1000, fromJwt)
  }
  if (fromJwt !== undefined) return fromJwt
  return exp === undefined ? undefined : exp * 1000 - now
}

/**
 * Builds the session state from the tokens `operation` got at `now`: a new session, read like a
 * record, so what a protocol of the app's own gives is checked as storage is.
 * @throws {AuthError} `invalid_response` without an access token, with a bad refresh or ID token,
 *   or when nothing says when the token expires, it already has, or its lifetime is out of range.
 */
export function createSessionState<Claims>(operation: string, tokens: TokenResponse, now: number): SessionState<Claims> {
  const { accessToken, refreshToken, idToken, expiresInSec } = tokens ?? {}
  // The ID token never tells when the access token expires: only the access token's own claims do.
  const lifetime = lifetimeMs(expiresInSec, decodeClaims(accessToken) ?? {}, now)
  // Born 0: new, until the client stamps it (sessionMachine.ts).
  const state = fromRecord<Claims>({ v: 1, accessToken, refreshToken, idToken, expiresAt: now + lifetime!, receivedAt: now, born: 0 })
  if (!state) {
    throw new AuthError('invalid_response', DEV ? `${operation}: no usable tokens (an access token, any refresh or ID token non-empty, and a lifetime of 1 s to 10 years)` : '')
  }
  return state
}

/** The record of a state, with no key for a token it does not have. */
export function toRecord(state: SessionState<unknown>): SessionRecord {
  const { refreshToken, idToken } = state
  return {
    v: 1,
    accessToken: state.session.accessToken,
    ...(refreshToken && { refreshToken }),
    ...(idToken && { idToken }),
    expiresAt: state.session.expiresAt,
    receivedAt: state.receivedAt,
    sid: state.sid,
    rotation: state.rotation,
    gen: state.gen,
    tab: state.tab,
    born: state.born,
    ...(state.active && { active: state.active }),
    loginAt: state.loginAt,
  }
}

/** A string with something in it: a token or an id from untrusted data. */
export const nonEmptyString = (value: unknown): value is string => typeof value === 'string' && value !== ''
/** A safe, non-negative integer: a count or a generation from untrusted data. */
export const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0
const optional = <T>(value: unknown, test: (value: unknown) => value is T): boolean => value === undefined || test(value)

/**
 * Reads a session back from untrusted data (storage, another tab). Anything malformed gives
 * `undefined`; claims are decoded again from the token rather than trusted from the record.
 */
export function fromRecord<Claims>(value: unknown): SessionState<Claims> | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const record = value as Partial<Record<keyof SessionRecord, unknown>>
  const expiresAt = numeric(record.expiresAt)
  const receivedAt = numeric(record.receivedAt)
  if (
    record.v !== 1 ||
    !nonEmptyString(record.accessToken) ||
    !optional(record.refreshToken, nonEmptyString) ||
    !optional(record.idToken, nonEmptyString) ||
    expiresAt === undefined ||
    receivedAt === undefined ||
    !(expiresAt - receivedAt >= MIN_LIFETIME_MS && expiresAt - receivedAt <= MAX_LIFETIME_MS) ||
    !optional(record.sid, nonEmptyString) ||
    !optional(record.rotation, isCount) ||
    !optional(record.gen, isCount) ||
    !optional(record.born, isCount) ||
    !optional(record.active, isCount) ||
    !optional(record.loginAt, isCount) ||
    // A session is born at its login, never after its latest change: a later birth would beat every newer login (sessionOrder.ts).
    (record.born as number) > ((record.gen as number | undefined) ?? receivedAt) ||
    !optional(record.tab, (value): value is string => typeof value === 'string')
  ) {
    return undefined
  }
  // A record from before generations: as of its tokens' arrival (the clocks are the wall clock's).
  const gen = (record.gen as number | undefined) ?? receivedAt
  // A record from before births: born no later than its latest change, so a newer login still
  // wins (0 would make its next refresh look like a login).
  const born = (record.born as number | undefined) ?? gen
  return {
    session: {
      accessToken: record.accessToken,
      expiresAt,
      // The access token's claims, or for an opaque one the ID token's.
      claims: (decodeClaims(record.accessToken) ?? decodeClaims(record.idToken as string | undefined) ?? {}) as Claims,
    },
    refreshToken: record.refreshToken as string | undefined,
    idToken: record.idToken as string | undefined,
    receivedAt,
    // A record from before session ids is a session of its own.
    sid: (record.sid as string | undefined) ?? randomId(),
    rotation: (record.rotation as number | undefined) ?? 0,
    gen,
    tab: (record.tab as string | undefined) ?? '',
    born,
    active: record.active as number | undefined,
    // A record from before login times: its birth, or its last change for a birth of 0 (older
    // versions wrote it), or its tokens' arrival.
    loginAt: (record.loginAt as number | undefined) ?? Math.floor(born || gen),
  }
}
