export interface DemoServerOptions {
  port?: number
  host?: string
  accessTokenLifetimeSec?: number
  refreshTokenLifetimeSec?: number
  refreshMode?: 'cookie' | 'body'
  signingKeyPem?: string
  usersFile?: string
}
export interface DemoServer {
  url: string
  stats: { login: number; refresh: number; logout: number; reuseDetected: number; api: number; unauthorized: number }
  close(): Promise<void>
}
export function startDemoServer(options?: DemoServerOptions): Promise<DemoServer>
