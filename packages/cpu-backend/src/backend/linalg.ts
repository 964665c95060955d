/**
 * Dense linear algebra (svd, qr, eigh) for the cpu backend. Placeholder: the JavaScript kernels until
 * the native ones land.
 */
import type { Backend, JsStorage } from '@lorakit/tensor';
import type { NativeBinding } from '../native.js';

type Linalg = Pick<Backend<JsStorage>, 'svd' | 'qr' | 'eigh'>;

export function linalgKernels(_native: NativeBinding, js: Backend<JsStorage>): Linalg {
  return { svd: js.svd, qr: js.qr, eigh: js.eigh };
}
