import { lorakitVitestConfig } from '@lorakit/vitest-config';

export default lorakitVitestConfig({ test: { testTimeout: 300_000 } });
