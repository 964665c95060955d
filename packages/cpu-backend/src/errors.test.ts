import { LorakitError } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { CpuBackendError, GemmArgumentError, NativeUnavailableError } from './errors.js';

describe('errors', () => {
  it('are LorakitErrors, named after their class, so callers catch every lorakit error one way', () => {
    for (const Kind of [CpuBackendError, GemmArgumentError, NativeUnavailableError]) {
      const error = new Kind('[sgemm] m must be a positive integer, received -1');
      expect(error).toBeInstanceOf(LorakitError);
      expect(error).toBeInstanceOf(CpuBackendError);
      expect(error.name).toBe(Kind.name);
      expect(error.message).toBe('[sgemm] m must be a positive integer, received -1');
    }
  });
});
