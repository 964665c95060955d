import { noGrad } from '../autograd/grad-mode.js';
import { record } from '../autograd/node.js';
import { isFloating } from '../dtype.js';
import { DtypeError } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { broadcastView, commonBackend, fusedDtype, wrap } from './core.js';
import { sumToShape } from './view.js';

function checkSwiglu(gate: Tensor, up: Tensor): number[] {
  for (const [name, t] of [
    ['gate', gate],
    ['up', up],
  ] as const) {
    if (!isFloating(t.dtype)) {
      throw new DtypeError(`[swiglu] ${name} must be a floating tensor, received ${t.dtype}`);
    }
  }
  if (gate.dtype !== up.dtype) {
    throw new DtypeError(`[swiglu] gate and up must have one dtype, received ${gate.dtype} and ${up.dtype}`);
  }
  commonBackend('swiglu', [gate, up]);
  return broadcastShapes('swiglu', gate.shape, up.shape);
}

/**
 * float32 and float64 run on the fused kernels; 16-bit floats too where the backend computes them in
 * float32 (`fusedHalfPrecision`), and compose otherwise (rounding every step).
 */
const fusable = fusedDtype;

/**
 * The SwiGLU activation `silu(gate)·up` of Llama-style MLPs (Shazeer 2020, "GLU Variants Improve
 * Transformer"), gate and up broadcast against each other and of one floating dtype. Recorded as one op
 * whose backward computes both gradients from gate and up,
 *
 * ```
 * dGate = g·up·σ(gate)·(1 + gate·(1 − σ(gate)))      dUp = g·silu(gate)
 * ```
 *
 * so neither silu(gate) nor σ(gate) is kept alive between forward and backward. Forward and backward
 * each run as one pass of the backend's fused kernels (`swiglu`, `swigluBackward`) when it has them and
 * takes the dtype (see `fusedHalfPrecision`), and compose elementwise ops otherwise. {@link swigluComposed} is the
 * reference.
 */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  const shape = checkSwiglu(gate, up);
  const kernel = gate.backend.swiglu;
  const out =
    kernel && fusable(gate)
      ? wrap(gate.backend, kernel(broadcastView(gate, shape), broadcastView(up, shape)), gate.dtype, shape)
      : noGrad(() => gate.silu().mul(up));
  return record('swiglu', [gate, up], out);
}

/** SwiGLU composed from differentiable ops, `gate.silu().mul(up)` (the reference for {@link swiglu}). */
export function swigluComposed(gate: Tensor, up: Tensor): Tensor {
  checkSwiglu(gate, up);
  return gate.silu().mul(up);
}

/**
 * The gradients of {@link swiglu} for gate and up (null where `needs` says no), summed down to their
 * shapes where they were broadcast. Used by the backward rule, which runs under `noGrad`.
 */
export function swigluBackward(
  grad: Tensor,
  gate: Tensor,
  up: Tensor,
  needs: readonly [boolean, boolean],
): [Tensor | null, Tensor | null] {
  const kernel = grad.backend.swigluBackward;
  let dGate: Tensor | null = null;
  let dUp: Tensor | null = null;
  if (kernel && fusable(gate) && grad.dtype === gate.dtype) {
    const result = kernel(grad.view(), broadcastView(gate, grad.shape), broadcastView(up, grad.shape), needs);
    dGate = result.gate === null ? null : wrap(grad.backend, result.gate, grad.dtype, grad.shape);
    dUp = result.up === null ? null : wrap(grad.backend, result.up, grad.dtype, grad.shape);
  } else {
    // σ(x)·(1 + x·(1 − σ(x))) = σ(x)·(1 + x − silu(x)), with silu(x) = x·σ(x) shared by both gradients.
    const s = gate.sigmoid();
    const silu = gate.mul(s);
    dGate = needs[0] ? grad.mul(up).mul(s.mul(gate.sub(silu).add(1))) : null;
    dUp = needs[1] ? grad.mul(silu) : null;
  }
  return [dGate && sumToShape(dGate, gate.shape), dUp && sumToShape(dUp, up.shape)];
}
