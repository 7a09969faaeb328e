import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One throwaway PostgreSQL server per run, unless FEDSTAT_TEST_PG names one (test/setup/postgres.ts).
    globalSetup: ['test/setup/postgres.ts'],
    // Two cores: SEAL and DuckDB work is CPU-bound, so more workers only thrash.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
