import { arange, type Tensor } from '@lorakit/tensor';
import { ModelError } from '../errors.js';

/** Token ids must be integer [batch, sequence]; returns the two sizes. */
export function checkInputIds(inputIds: Tensor): [number, number] {
  if (inputIds.rank !== 2 || (inputIds.dtype !== 'int64' && inputIds.dtype !== 'int32')) {
    throw new ModelError(
      `[forward] inputIds must be an int64 or int32 tensor [batch, sequence], received ${inputIds.dtype} [${inputIds.shape.join(', ')}]`,
    );
  }
  return inputIds.shape as [number, number];
}

/** [1, length] positions past, past + 1, …: transformers' default `position_ids`. */
export function defaultPositionIds(past: number, length: number, backend: string): Tensor {
  return arange(past, past + length, 1, { backend }).reshape(1, length);
}
