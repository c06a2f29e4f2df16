import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real servers, sockets, worker threads and child processes: give slow CI machines room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: run files in parallel, but not so many that timing-sensitive SMTP tests starve.
    maxWorkers: 2,
  },
});
