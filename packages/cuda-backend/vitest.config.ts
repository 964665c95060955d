import { lorakitVitestConfig } from '@lorakit/vitest-config';

// This package's own tests. Those that need a GPU skip with the reason when none is usable; on a GPU
// machine, vitest.gpu.config.ts also runs the whole op suite of @lorakit/tensor on `cuda`.
export default lorakitVitestConfig({ test: { setupFiles: ['./test/setup.ts'] } });
