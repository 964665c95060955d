/**
 * The fused elementwise kernels of the tensor package's `FusedKernels` for float32: the rotary position
 * embedding (and its transposed rotation, the x-gradient) and SwiGLU `silu(gate)·up` with its one-pass
 * backward. Each is one native pass over its operands in place of the several elementwise kernels (and
 * their intermediate tensors) that the composed ops run. Other dtypes, and layouts with more than 16
 * dims after merging, run on the JavaScript references, which read the same storage.
 */
import type { Backend, JsStorage, View } from '@lorakit/tensor';
import type { NativeBinding } from '../native.js';
import { allocateOutput } from './allocator.js';
import { checkView, packLayout, rowMajor, sizeOf } from './layout.js';

type FusedElementwise = Required<Pick<Backend<JsStorage>, 'rotary' | 'swiglu' | 'swigluBackward'>>;

const float32 = (views: readonly View<JsStorage>[]) => views.every((v) => v.dtype === 'float32');

export function fusedElementwiseKernels(native: NativeBinding, js: Backend<JsStorage>): FusedElementwise {
  function rotary(x: View<JsStorage>, cos: View<JsStorage>, sin: View<JsStorage>, transposed: boolean) {
    const rank = x.shape.length;
    const operands = [x, cos, sin];
    const size = sizeOf(x.shape);
    if (!float32(operands) || size === 0) {
      return js.rotary!(x, cos, sin, transposed);
    }
    for (const v of operands) checkView('rotary', v);
    const width = x.shape[rank - 1]!;
    const rows = packLayout(
      x.shape.slice(0, -1),
      [rowMajor(x.shape).slice(0, -1), ...operands.map((v) => v.strides.slice(0, -1))],
      [0, x.offset, cos.offset, sin.offset],
    );
    if (!rows) return js.rotary!(x, cos, sin, transposed);
    const out = allocateOutput('float32', size) as Float32Array;
    native.rotary(
      rows,
      width / 2,
      x.strides[rank - 1]!,
      cos.strides[rank - 1]!,
      sin.strides[rank - 1]!,
      out,
      x.storage as Float32Array,
      cos.storage as Float32Array,
      sin.storage as Float32Array,
      transposed,
    );
    return out;
  }

  function swiglu(gate: View<JsStorage>, up: View<JsStorage>) {
    const size = sizeOf(gate.shape);
    if (!float32([gate, up]) || size === 0) return js.swiglu!(gate, up);
    checkView('swiglu', gate);
    checkView('swiglu', up);
    const layout = packLayout(
      gate.shape,
      [rowMajor(gate.shape), gate.strides, up.strides],
      [0, gate.offset, up.offset],
    );
    if (!layout) return js.swiglu!(gate, up);
    const out = allocateOutput('float32', size) as Float32Array;
    native.swiglu(layout, out, gate.storage as Float32Array, up.storage as Float32Array);
    return out;
  }

  function swigluBackward(
    grad: View<JsStorage>,
    gate: View<JsStorage>,
    up: View<JsStorage>,
    needs: readonly [boolean, boolean],
  ) {
    const size = sizeOf(grad.shape);
    if (!float32([grad, gate, up]) || size === 0 || !(needs[0] || needs[1])) {
      return js.swigluBackward!(grad, gate, up, needs);
    }
    for (const v of [grad, gate, up]) checkView('swigluBackward', v);
    const layout = packLayout(
      grad.shape,
      [rowMajor(grad.shape), grad.strides, gate.strides, up.strides],
      [0, grad.offset, gate.offset, up.offset],
    );
    if (!layout) return js.swigluBackward!(grad, gate, up, needs);
    const dGate = needs[0] ? (allocateOutput('float32', size) as Float32Array) : null;
    const dUp = needs[1] ? (allocateOutput('float32', size) as Float32Array) : null;
    native.swigluBackward(
      layout,
      dGate,
      dUp,
      grad.storage as Float32Array,
      gate.storage as Float32Array,
      up.storage as Float32Array,
    );
    return { gate: dGate, up: dUp };
  }

  return { rotary, swiglu, swigluBackward };
}
