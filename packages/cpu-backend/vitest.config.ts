import { lorakitVitestConfig } from '@lorakit/vitest-config';

// Besides this package's own tests, the whole op suite of @lorakit/tensor runs here: its
// describeEachBackend suites then cover `cpu` next to `js` (and the opaque test backend), and its plain
// suites run on the default backend, which is `cpu` once registered.
export default lorakitVitestConfig({
  test: {
    include: ['../tensor/src/**/*.test.ts'],
    setupFiles: ['./test/setup.ts'],
  },
});
