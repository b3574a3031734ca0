import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Network and BPF tests share host state (netns names, bpffs pins); run files one at a time
    // inside a worker pool of forks so a crash in a native binding cannot take the runner down.
    pool: 'forks',
    fileParallelism: true,
    reporters: ['default'],
  },
});
