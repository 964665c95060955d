import type { View } from '../../backend/kernels.js';
import { sigmoid, silu } from './elementwise.js';
import { allocateNumeric, finish, type JsStorage, type NumericArray, numeric } from './storage.js';
import { forEachRow } from './strided.js';

/**
 * The JS reference of the fused SwiGLU forward: silu(gate)·up, with silu rounded to the dtype before
 * the product, as the composed `gate.silu().mul(up)` computes it (float32 results equal it bit for bit).
 */
export function swiglu(gate: View, up: View): JsStorage {
  const size = gate.shape.reduce((a, b) => a * b, 1);
  const out = allocateNumeric(gate.dtype, size);
  const round = gate.dtype === 'float32' ? Math.fround : (v: number) => v;
  const g = numeric(gate).data;
  const u = numeric(up).data;
  let o = 0;
  forEachRow(
    gate.shape,
    [gate.strides, up.strides],
    [gate.offset, up.offset],
    ([g0, u0], length, [gs, us]) => {
      for (let i = 0; i < length; i++) out[o++] = round(silu(g[g0! + i * gs!]!)) * u[u0! + i * us!]!;
    },
  );
  return finish(gate.dtype, out);
}

/**
 * The JS reference of the fused SwiGLU backward: dGate = grad·up·σ(gate)·(1 + gate·(1 − σ(gate))) and
 * dUp = grad·silu(gate), each computed in double and rounded once; a gradient not in `needs` is null.
 */
export function swigluBackward(
  grad: View,
  gate: View,
  up: View,
  needs: readonly [boolean, boolean],
): { gate: JsStorage | null; up: JsStorage | null } {
  const size = grad.shape.reduce((a, b) => a * b, 1);
  const dGate: NumericArray | null = needs[0] ? allocateNumeric(grad.dtype, size) : null;
  const dUp: NumericArray | null = needs[1] ? allocateNumeric(grad.dtype, size) : null;
  const dy = numeric(grad).data;
  const g = numeric(gate).data;
  const u = numeric(up).data;
  let o = 0;
  forEachRow(
    grad.shape,
    [grad.strides, gate.strides, up.strides],
    [grad.offset, gate.offset, up.offset],
    ([d0, g0, u0], length, [ds, gs, us]) => {
      for (let i = 0; i < length; i++, o++) {
        const dyi = dy[d0! + i * ds!]!;
        const x = g[g0! + i * gs!]!;
        const s = sigmoid(x);
        if (dGate) dGate[o] = dyi * u[u0! + i * us!]! * s * (1 + x * (1 - s));
        if (dUp) dUp[o] = dyi * x * s;
      }
    },
  );
  return {
    gate: dGate && finish(grad.dtype, dGate),
    up: dUp && finish(grad.dtype, dUp),
  };
}
