import { lorakitVitestConfig } from '@lorakit/vitest-config';

// The end-to-end tests run the built binary (dist/cli.js) in child processes; one file at a time keeps
// them from fighting over the two cores.
export default lorakitVitestConfig({ test: { fileParallelism: false, testTimeout: 180_000 } });
