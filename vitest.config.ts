import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // generous: the end-to-end tests spawn the binary many times, and a shared machine may be slow; tests never assert timings
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // what src/sqlite.ts sets for the binary: the URI filenames correlate opens the internal database with
    env: { SQLITE_USE_URI: '1' },
  },
});
