import { lorakitVitestConfig } from '@lorakit/vitest-config';

export default lorakitVitestConfig();
