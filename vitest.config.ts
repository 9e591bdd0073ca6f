import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    environment: 'happy-dom',
    include: ['test/**/*.test.ts'],
    environmentOptions: { happyDOM: { url: 'https://app.example.com/' } },
    restoreMocks: true,
    unstubGlobals: true,
  },
})
