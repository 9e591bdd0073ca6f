// The local server in a process of its own, so its work does not share the measured event loop.
// Prints its URL on the first line; GET /__counts answers what it has seen.
import { startLocalServer } from './localServer.mjs'

const server = await startLocalServer()
process.stdout.write(`${server.url}\n`)
process.on('disconnect', () => process.exit(0))
