import { lorakitVitestConfig } from '@lorakit/vitest-config';

// The examples run on the packages' sources (the @lorakit/source condition); the site test serves the built
// site (turbo builds it first) and drives one Chromium. One file at a time: the machine has two cores.
export default lorakitVitestConfig({
  test: {
    include: ['test/**/*.test.ts', 'scripts/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
