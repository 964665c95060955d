import { record } from '../autograd/node.js';
import { promoteTypes } from '../dtype.js';
import { DtypeError, fmtShape, ShapeError } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { broadcastView, commonBackend, wrap } from './core.js';
import { reshape, unsqueeze } from './view.js';

/**
 * Matrix product with NumPy semantics: 1-D operands are promoted to matrices (and the added dim is
 * removed afterwards), batch dims broadcast. Transposed operands stay views: the kernel reads strides.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank === 0 || b.rank === 0) {
    throw new ShapeError(
      `[matmul] both operands need at least one dimension, received ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
    );
  }
  const left = a.rank === 1 ? unsqueeze(a, 0) : a;
  const right = b.rank === 1 ? unsqueeze(b, 1) : b;
  let out: Tensor;
  if (left.rank > 2 && right.rank === 2 && left.shape[left.rank - 1] === right.shape[0]) {
    // [..., m, k] · [k, n]: one GEMM over all rows instead of a batch of small ones.
    const rows = reshape(left, [-1, left.shape[left.rank - 1]!]);
    out = reshape(matmul2(rows, right), [...left.shape.slice(0, -1), right.shape[1]!]);
  } else {
    out = matmul2(left, right);
  }
  if (a.rank === 1 && b.rank === 1) return reshape(out, []);
  if (a.rank === 1) return reshape(out, [...out.shape.slice(0, -2), out.shape[out.rank - 1]!]);
  if (b.rank === 1) return reshape(out, out.shape.slice(0, -1));
  return out;
}

function matmul2(a: Tensor, b: Tensor): Tensor {
  const m = a.shape[a.rank - 2]!;
  const k = a.shape[a.rank - 1]!;
  const k2 = b.shape[b.rank - 2]!;
  const n = b.shape[b.rank - 1]!;
  if (k !== k2) {
    throw new ShapeError(
      `[matmul] inner dimensions differ: a is ${fmtShape(a.shape)}, b is ${fmtShape(b.shape)}`,
    );
  }
  if (
    a.dtype !== b.dtype &&
    promoteTypes(a.dtype, b.dtype) !== a.dtype &&
    promoteTypes(a.dtype, b.dtype) !== b.dtype
  ) {
    throw new DtypeError(`[matmul] dtypes ${a.dtype} and ${b.dtype} cannot be combined`);
  }
  const outDtype = promoteTypes(a.dtype, b.dtype);
  const backend = commonBackend('matmul', [a, b]);
  const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const storage = backend.matmul(
    broadcastView(a, [...batch, m, k]),
    broadcastView(b, [...batch, k, n]),
    outDtype,
  );
  return record('matmul', [a, b], wrap(backend, storage, outDtype, [...batch, m, n]));
}

/** `x · wᵀ + bias` with PyTorch's Linear layout (w is [out, in]). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const y = matmul(x, weight.T);
  return bias ? y.add(bias) : y;
}
