export interface DemoProviderOptions {
  /** 0 picks a free port. @default 8788 */
  port?: number
  /** @default '127.0.0.1' (the issuer then says localhost) */
  host?: string
  /** The demo app's origin, such as `http://localhost:8787`: its `/oidc/` page is the registered redirect URI. */
  appOrigin: string
  /** Access tokens live this long (whole seconds). @default 30 */
  accessTokenLifetimeSec?: number
  /** The demo users, scrypt-hashed. @default examples/server/users.json */
  usersFile?: string
}
export interface DemoProvider {
  issuer: string
  clientId: string
  close(): Promise<void>
}
/** oidc-provider's `loadExistingGrant` for a first-party client: what it asks for is granted, with no consent screen. */
export function grantFirstParty(ctx: unknown): Promise<unknown>
/** The demo app's client id at the provider. */
export const DEMO_CLIENT_ID: string
/** Starts the demo's OpenID Provider (oidc-provider, in memory) with a real login form for the demo users. */
export function startDemoProvider(options: DemoProviderOptions): Promise<DemoProvider>
