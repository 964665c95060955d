import { lorakitVitestConfig } from '@lorakit/vitest-config';

// On a GPU machine: this package's tests plus the op suite of @lorakit/tensor (its describeEachBackend
// suites, gradient checks and agreement tests) with `cuda` registered and the default backend.
// LORAKIT_TEST_BACKENDS=cuda restricts describeEachBackend to it.
export default lorakitVitestConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', '../tensor/src/**/*.test.ts'],
    setupFiles: ['./test/setup.ts'],
  },
});
