import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const hasChromium = existsSync(CHROMIUM_PATH)

if (!hasChromium) {
  const message =
    `\n${'!'.repeat(78)}\n! The real-browser tests did NOT run: no Chromium at ${CHROMIUM_PATH}.\n` +
    '! Install it with:  apt-get update && apt-get install -y chromium\n' +
    `! (.ci/run installs it, and fails when it is missing.)\n${'!'.repeat(78)}\n`
  if (process.env.CI) throw new Error(message)
  console.warn(message)
}

/** Debian's Chromium, headless, kept off the network this machine does not have. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  })
}
