import { record } from '../autograd/node.js';
import type { ConvGeometry } from '../backend/kernels.js';
import { fmtShape, ShapeError, TensorError } from '../errors.js';
import { sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './core.js';
import { reshape } from './view.js';

export interface ConvOptions {
  readonly stride?: number | readonly number[];
  /** Zero padding per side, or 'valid' (none) / 'same' (output size = input size; stride 1 only). */
  readonly padding?: number | readonly number[] | 'valid' | 'same';
  readonly dilation?: number | readonly number[];
  readonly groups?: number;
}

function perDim(
  op: string,
  name: string,
  value: number | readonly number[] | undefined,
  fallback: number,
  nd: number,
): number[] {
  const list =
    value === undefined
      ? new Array<number>(nd).fill(fallback)
      : typeof value === 'number'
        ? new Array<number>(nd).fill(value)
        : [...value];
  if (list.length !== nd || !list.every((v) => Number.isInteger(v) && v >= 0)) {
    throw new TensorError(
      `[${op}] ${name} must be a non-negative integer or ${nd} of them, received ${JSON.stringify(value)}`,
    );
  }
  return list;
}

/** Columns of every receptive field: x [N, C, ...S] → [N, C·∏k, ∏out] (differentiable; adjoint col2im). */
export function im2col(x: Tensor, geometry: ConvGeometry): Tensor {
  const [n, c] = x.shape as [number, number];
  const rows = c * sizeOf(geometry.kernel);
  const out = wrap(x.backend, x.backend.im2col(x.view(), geometry), x.dtype, [
    n,
    rows,
    sizeOf(geometry.outSpatial),
  ]);
  return record('im2col', [x], out, { geometry, inputShape: x.shape });
}

/** The adjoint of im2col (sums overlapping windows back into the input layout). */
export function col2im(columns: Tensor, geometry: ConvGeometry, inputShape: readonly number[]): Tensor {
  const out = wrap(
    columns.backend,
    columns.backend.col2im(columns.view(), geometry, inputShape),
    columns.dtype,
    inputShape,
  );
  return record('col2im', [columns], out, { geometry, inputShape });
}

/**
 * N-d convolution (cross-correlation, as PyTorch): x [N, C, ...S] or unbatched [C, ...S], weight
 * [O, C/groups, ...k], bias [O]. Computed as im2col + one batched matrix product per group.
 */
export function conv(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null | undefined,
  options: ConvOptions,
  nd: number,
): Tensor {
  const op = `conv${nd}d`;
  if (x.rank === nd + 1) return conv(x.unsqueeze(0), weight, bias, options, nd).squeeze(0);
  if (x.rank !== nd + 2)
    throw new ShapeError(
      `[${op}] input must be [N, C, ${nd === 1 ? 'L' : '...spatial'}] (rank ${nd + 2}), received ${fmtShape(x.shape)}`,
    );
  if (weight.rank !== nd + 2)
    throw new ShapeError(`[${op}] weight must have rank ${nd + 2}, received ${fmtShape(weight.shape)}`);
  const groups = options.groups ?? 1;
  const [batch, channels] = x.shape as [number, number];
  const [outChannels, groupChannels] = weight.shape as [number, number];
  if (!Number.isInteger(groups) || groups < 1 || channels % groups !== 0 || outChannels % groups !== 0) {
    throw new ShapeError(
      `[${op}] groups ${groups} must divide both input channels ${channels} and output channels ${outChannels}`,
    );
  }
  if (groupChannels * groups !== channels) {
    throw new ShapeError(
      `[${op}] weight ${fmtShape(weight.shape)} expects ${groupChannels * groups} input channels, input has ${channels}`,
    );
  }
  const kernel = weight.shape.slice(2);
  const spatial = x.shape.slice(2);
  const stride = perDim(op, 'stride', options.stride, 1, nd);
  const dilation = perDim(op, 'dilation', options.dilation, 1, nd);
  let padding: number[];
  if (options.padding === 'same') {
    if (stride.some((s) => s !== 1))
      throw new TensorError(`[${op}] padding 'same' needs stride 1, received ${fmtShape(stride)}`);
    const total = kernel.map((k, i) => dilation[i]! * (k - 1));
    if (total.some((t) => t % 2 !== 0)) {
      throw new TensorError(
        `[${op}] padding 'same' with an even receptive field is not supported; pad explicitly`,
      );
    }
    padding = total.map((t) => t / 2);
  } else {
    padding =
      options.padding === 'valid'
        ? new Array<number>(nd).fill(0)
        : perDim(op, 'padding', options.padding, 0, nd);
  }
  if (stride.some((s) => s === 0) || dilation.some((d) => d === 0))
    throw new TensorError(`[${op}] stride and dilation must be positive`);
  const outSpatial = spatial.map((s, i) =>
    Math.floor((s + 2 * padding[i]! - dilation[i]! * (kernel[i]! - 1) - 1) / stride[i]! + 1),
  );
  if (outSpatial.some((o) => o <= 0)) {
    throw new ShapeError(
      `[${op}] input ${fmtShape(x.shape)} is too small for kernel ${fmtShape(kernel)} (output would be ${fmtShape(outSpatial)})`,
    );
  }
  const geometry: ConvGeometry = { kernel, stride, padding, dilation, outSpatial };
  const k = sizeOf(kernel);
  const columns = reshape(im2col(x, geometry), [batch, groups, groupChannels * k, sizeOf(outSpatial)]);
  const w = reshape(weight, [1, groups, outChannels / groups, groupChannels * k]);
  let out = reshape(w.matmul(columns), [batch, outChannels, ...outSpatial]);
  if (bias) out = out.add(reshape(bias, [1, outChannels, ...new Array<number>(nd).fill(1)]));
  return out;
}

export const conv1d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvOptions = {}) => conv(x, w, b, o, 1);
export const conv2d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvOptions = {}) => conv(x, w, b, o, 2);
export const conv3d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvOptions = {}) => conv(x, w, b, o, 3);
