/**
 * The `cpu` tensor backend: the JavaScript reference backend with its kernels replaced by native ones
 * where the addon handles the dtype and layout. Both backends store tensors in the same typed arrays, so
 * a kernel the addon does not cover (float16/bfloat16 data, sort, random numbers, more than 16 dims after
 * merging) runs on the JavaScript implementation without any conversion.
 */
import { type Backend, createJsBackend, type JsStorage } from '@lorakit/tensor';
import { requireNative } from '../native.js';
import { recycleStorage, tuneAllocator } from './allocator.js';
import { attentionKernels } from './attention.js';
import { convolutionKernels } from './conv.js';
import { elementwiseKernels } from './elementwise.js';
import { fusedKernels } from './fused.js';
import { fusedElementwiseKernels } from './fused-elementwise.js';
import { indexingKernels } from './indexing.js';
import { linalgKernels } from './linalg.js';
import { lossKernels } from './loss.js';
import { matmulKernel } from './matmul.js';
import { readOpCodes } from './op-codes.js';
import { reductionKernels } from './reduce.js';

/**
 * Creates the native CPU backend. Throws a NativeUnavailableError (with the reason) when the addon did
 * not load; `registerCpuBackend()` is the variant that warns and leaves the JavaScript backend in place.
 */
export function createCpuBackend(name = 'cpu'): Backend<JsStorage> {
  const native = requireNative('createCpuBackend');
  tuneAllocator(native);
  const js = createJsBackend(name);
  const codes = readOpCodes(native);
  const elementwise = elementwiseKernels(native, js, codes);
  return {
    ...js,
    name,
    dispose: recycleStorage,
    ...elementwise,
    ...reductionKernels(native, js, codes),
    matmul: matmulKernel(js, elementwise.copy),
    ...indexingKernels(native, js),
    ...convolutionKernels(native, js),
    ...fusedKernels(native, js, elementwise.copy),
    ...fusedElementwiseKernels(native, js),
    ...attentionKernels(native, js),
    ...lossKernels(native, js),
    ...linalgKernels(native, js, elementwise.copy),
  };
}
