/**
 * The few calls the browser suites make, the same in every engine. A driver adapts its automation
 * library to them; a suite written against them runs unchanged in Chromium and Firefox.
 */

/** A cookie as the browser holds it (HttpOnly ones included). */
export interface TestCookie {
  name: string
  value: string
  domain: string
  path: string
  /** Seconds since the epoch, or -1 for a session cookie. */
  expires: number
  httpOnly: boolean
  secure: boolean
  sameSite?: string
}

/** One tab. */
export interface TestPage {
  /** Navigates and waits for the load event. */
  goto(url: string): Promise<void>
  reload(): Promise<void>
  close(): Promise<void>
  /**
   * Runs `fn` in the page and returns its (awaited) result. The function is sent as source, so it
   * can use only its argument and the page's globals.
   */
  evaluate<R>(fn: () => R | Promise<R>): Promise<R>
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>
  /** Runs an expression given as a string: the test runner's transform leaves its `import()` alone. */
  evaluate<R = unknown>(expression: string): Promise<R>
  /** Types into a form field, as a user does. */
  fill(selector: string, value: string): Promise<void>
  /** Clicks an element, as a user does. */
  click(selector: string): Promise<void>
  screenshot(path: string): Promise<void>
  /** The messages of uncaught errors in the page so far. */
  readonly errors: readonly string[]
}

/** A fresh profile: its tabs share storage, cookies, BroadcastChannels and Web Locks, and nothing else does. */
export interface TestContext {
  newPage(): Promise<TestPage>
  cookies(): Promise<TestCookie[]>
  close(): Promise<void>
}

export interface TestBrowser {
  newContext(): Promise<TestContext>
  close(): Promise<void>
}

/** A browser engine the suites run in. */
export interface Engine {
  /** Said in test names: "… in Firefox". */
  name: 'Chromium' | 'Firefox'
  executablePath: string
  /** How to install the browser when it is missing. */
  install: string
  launch(): Promise<TestBrowser>
}
