import { lorakitVitestConfig } from '@lorakit/vitest-config';

export default lorakitVitestConfig({ test: { setupFiles: ['./test/setup.ts'] } });
