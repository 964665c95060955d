import { noGrad } from '../autograd/grad-mode.js';
import { record } from '../autograd/node.js';
import { fmtShape, ShapeError } from '../errors.js';
import { broadcastShapes, shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { broadcastView, commonBackend, fusedDtype, wrap } from './core.js';
import { cat } from './view.js';

/** [x₁, x₂] → [−x₂, x₁] over the halves of the last dim (transformers' `rotate_half`). */
export function rotateHalf(x: Tensor): Tensor {
  const half = x.shape[x.rank - 1]! / 2;
  return cat([x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)], -1);
}

/** [x₁, x₂] → [x₂, x₁]. */
function swapHalves(x: Tensor): Tensor {
  const half = x.shape[x.rank - 1]! / 2;
  return cat([x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);
}

/** [s₁, s₂] → [−s₁, s₂] with `width` columns (a size-1 last dim is expanded first). */
function negateFirstHalf(s: Tensor, width: number): Tensor {
  const full = s.shape[s.rank - 1] === width ? s : s.expand([...s.shape.slice(0, -1), width]);
  const half = width / 2;
  return cat([full.narrow(-1, 0, half).neg(), full.narrow(-1, half, half)], -1);
}

function checkRotary(x: Tensor, cos: Tensor, sin: Tensor): void {
  if (x.rank === 0 || x.shape[x.rank - 1]! % 2 !== 0) {
    throw new ShapeError(`[rotary] x needs an even last dim, received ${fmtShape(x.shape)}`);
  }
  for (const [name, t] of [
    ['cos', cos],
    ['sin', sin],
  ] as const) {
    if (t.rank > x.rank || !shapesEqual(broadcastShapes('rotary', x.shape, t.shape), x.shape)) {
      throw new ShapeError(
        `[rotary] ${name} ${fmtShape(t.shape)} must broadcast to x ${fmtShape(x.shape)} without growing it`,
      );
    }
  }
  commonBackend('rotary', [x, cos, sin]);
}

/**
 * Rotary position embedding (RoFormer, Su et al. 2021) in transformers' `rotate_half` layout:
 * `x·cos + rotateHalf(x)·sin`, cos and sin broadcast to x (Llama: x [B, H, T, D], cos/sin [B, 1, T, D]).
 * Recorded as one op. The forward computes `swap(x)·[−sin₁, sin₂]`, which has the values of
 * `rotateHalf(x)·sin` bit for bit (only signs move) without the negated copy of x; the backward applies
 * the transposed rotation directly, `g·cos + swap(g·[−sin₁, sin₂])`, instead of differentiating through
 * narrow, neg and cat (whose gradients are zero-filled full-size tensors). Both run as one pass of the
 * backend's fused `rotary` kernel when it has one and x, cos and sin share the dtype float32 or
 * float64. {@link rotaryComposed} is the reference.
 */
export function rotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  checkRotary(x, cos, sin);
  const width = x.shape[x.rank - 1]!;
  const out =
    rotaryKernel(x, cos, sin, false) ??
    noGrad(() => x.mul(cos).add(swapHalves(x).mul(negateFirstHalf(sin, width))));
  return record('rotary', [x, cos, sin], out);
}

/**
 * The backend's fused rotation of x (or its transpose), or null when the backend has no `rotary`
 * kernel, it does not take x's dtype (see `fusedHalfPrecision`) or cos and sin have another dtype. The result is not recorded.
 */
function rotaryKernel(x: Tensor, cos: Tensor, sin: Tensor, transposed: boolean): Tensor | null {
  const kernel = x.backend.rotary;
  if (!kernel || !fusedDtype(x)) return null;
  if (cos.dtype !== x.dtype || sin.dtype !== x.dtype) return null;
  const out = kernel(x.view(), broadcastView(cos, x.shape), broadcastView(sin, x.shape), transposed);
  return wrap(x.backend, out, x.dtype, x.shape);
}

/** The rotary embedding composed from differentiable ops (the reference for {@link rotary}). */
export function rotaryComposed(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  checkRotary(x, cos, sin);
  return x.mul(cos).add(rotateHalf(x).mul(sin));
}

/**
 * The gradient of {@link rotary} with respect to x: the rotation by the opposite angle (the fused kernel
 * when the backend has one, as in the forward). Meant for the backward rule, which runs under `noGrad`:
 * the fused result is never recorded.
 */
export function rotaryTransposed(grad: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const width = grad.shape[grad.rank - 1]!;
  return (
    rotaryKernel(grad, cos, sin, true) ?? grad.mul(cos).add(swapHalves(grad.mul(negateFirstHalf(sin, width))))
  );
}
