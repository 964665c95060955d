import { type AnyModule, Identity, type ModuleDict, Parameter } from '@lorakit/nn';
import { conv, type Dtype, embedding, noGrad, promoteTypes, type Tensor } from '@lorakit/tensor';
import { MergeError } from '../errors.js';
import { hasWeightAccess, readBaseWeight } from '../layers/base-weight.js';
import type { LoraConv } from '../layers/lora-conv.js';
import type { LoraEmbedding } from '../layers/lora-embedding.js';
import { type LoraLayer, MagnitudeVector } from '../layers/lora-layer.js';
import type { LoraLinear } from '../layers/lora-linear.js';
import { cachedSquaredRowNorm, doraWeightNorm, doraWeightNormComposed, squaredRowNorm } from './dora-norm.js';
import { type LoraVariant, registerLoraVariant } from './variant.js';

/**
 * DoRA — weight-decomposed low-rank adaptation (Liu et al., 2024, arXiv:2402.09353): the adapted weight
 * is m · (W + sBA) / ‖W + sBA‖ with a trainable magnitude m per output channel. As in the paper (§4.3) and
 * PEFT, the norm is detached: gradients reach m, and A, B only through the low-rank branch.
 *
 * The forward takes the norm in the factored form of {@link doraWeightNorm} (no [out, in] temporary, the
 * frozen ‖W‖² cached per weight and version) and reads the base weight in its stored dtype. Initialization
 * and merging, which run once, build W + s·BA as PEFT does.
 */

function magnitude(layer: LoraLayer, adapter: string): Parameter {
  return layer.child<ModuleDict>('lora_magnitude_vector').get(adapter).param('weight')!;
}

function setMagnitude(layer: LoraLayer, adapter: string, value: Tensor): void {
  const holder = new MagnitudeVector();
  holder.registerParameter('weight', new Parameter(value.detach().contiguous()));
  layer.child<ModuleDict>('lora_magnitude_vector').set(adapter, holder);
}

function rowNorm(w: Tensor): Tensor {
  return w.square().sum(1).sqrt();
}

/**
 * The base weight as stored (its own dtype and layout, no float32 copy) and ‖W‖² over `axes`, cached
 * per weight tensor and version. Quantized bases (WeightAccess) dequantize on every read, so theirs is
 * recomputed from the dequantized weight.
 */
function storedWeight(layer: LoraLayer, axes: readonly number[]): { weight: Tensor; squaredNorm: Tensor } {
  const base = layer.baseLayer;
  const stored = hasWeightAccess(base) ? undefined : base.param('weight');
  if (!stored) {
    const weight = readBaseWeight(base);
    return { weight, squaredNorm: squaredRowNorm(weight, axes) };
  }
  return { weight: stored, squaredNorm: cachedSquaredRowNorm(stored, axes) };
}

function isDropoutActive(dropout: AnyModule): boolean {
  return !(dropout instanceof Identity) && dropout.training;
}

function cacheKey(adapter: string): string {
  return `${adapter}-weight_norm`;
}

/** Caches a merge's weight norm for the unmerge (kept out of `tidy`: a merge may run inside one). */
function rememberMergeNorm(layer: LoraLayer, adapter: string, norm: Tensor): Tensor {
  layer.mergeCache.set(cacheKey(adapter), norm.keep());
  return norm;
}

/**
 * Runs `unmerge` with the weight norm cached at merge time; `forget` drops it (and frees it) afterwards.
 */
function withMergeNorm(
  layer: LoraLayer,
  adapter: string,
  forget: boolean,
  unmerge: (norm: Tensor) => Tensor,
): Tensor {
  const norm = layer.mergeCache.get(cacheKey(adapter));
  if (!norm)
    throw new MergeError(
      `[dora] no cached weight norm for adapter "${adapter}"; it was not merged in this process`,
    );
  const weight = unmerge(norm);
  if (forget) {
    layer.mergeCache.delete(cacheKey(adapter));
    norm.dispose();
  }
  return weight;
}

/** s·B(A(x)), the scale applied to the r-wide hidden (a pass over [N, r], not [N, out]). */
function scaledLora(l: LoraLinear | LoraConv, adapter: string, x: Tensor): Tensor {
  const scale = l.scaling.get(adapter)!;
  const b = l.loraB(adapter);
  // DoRA refuses lora_bias; a B with a bias anyway gets PEFT's s·(B·h + b_B).
  if (b.bias) return b.call(l.loraA(adapter).call(x)).mul(scale);
  return b.call(l.loraA(adapter).call(x).mul(scale));
}

/**
 * PEFT's `result + (k−1)⊙(result − bias) + k⊙s·lora` (dropout off: the base output reused), computed as
 * `k⊙t + (1−k)⊙bias` with `t = result + s·lora`. The backward keeps one [N, out] activation, t (for m's
 * gradient), where PEFT's form keeps two (result − bias and s·lora). When the base output is 16-bit (a
 * bf16 model), t is rounded to its dtype, so that activation is no larger than the base output: one more
 * rounding of the sum, within the dtype's precision. `k` and `bias` broadcast over the channels.
 */
function rescale(result: Tensor, loraScaled: Tensor, k: Tensor, bias: Tensor | null): Tensor {
  const sum = result.add(loraScaled);
  const t = isHalf(result.dtype) ? sum.cast(result.dtype) : sum;
  const out = t.mul(k);
  return bias ? out.add(k.neg().add(1).mul(bias)) : out;
}

/**
 * The single-adapter forward on the fused LoRA linear: `y = k⊙t + bias` with `t = x·Wᵀ + s·B·A·x` (the
 * fused op without bias, x read once), the value of {@link rescale}'s form. `t` is the one kept
 * activation, in the base output's dtype when that is 16-bit; `y` is returned in that dtype too, as the
 * general path returns it.
 */
function fusedRescale(t: Tensor, k: Tensor, bias: Tensor | null, outDtype: Dtype): Tensor {
  const kept = isHalf(outDtype) && t.dtype !== outDtype ? t.cast(outDtype) : t;
  const scaled = kept.mul(k);
  const y = bias ? scaled.add(bias) : scaled;
  return y.dtype === outDtype ? y : y.cast(outDtype);
}

function isHalf(dtype: Dtype): boolean {
  return dtype === 'bfloat16' || dtype === 'float16';
}

/**
 * PEFT's `result + (k−1)⊙base + k⊙s·lora` with active dropout (base and lora on the dropped input), as
 * `result + k⊙(base + s·lora) − base`: one kept activation (the sum, for m's gradient) instead of two.
 */
function rescaleDropped(result: Tensor, baseResult: Tensor, loraScaled: Tensor, k: Tensor): Tensor {
  return result.add(baseResult.add(loraScaled).mul(k)).sub(baseResult);
}

/** The weight norm of a linear DoRA adapter and the stored base weight (in Linear layout). */
function linearNorm(l: LoraLinear, adapter: string): { norm: Tensor; weight: Tensor } {
  // GPT-2's Conv1D stores W as [in, out]: its rows in Linear layout are the stored columns.
  const { weight, squaredNorm } = storedWeight(l, [l.fanInFanOut ? 0 : 1]);
  const linear = l.fanInFanOut ? weight.T : weight;
  const a = l.loraA(adapter).weight;
  const b = l.loraB(adapter).weight;
  return { norm: doraWeightNorm(linear, a, b, l.scaling.get(adapter)!, squaredNorm), weight: linear };
}

const linearDora: LoraVariant = {
  name: 'dora',
  initialize(layer, adapter) {
    const l = layer as LoraLinear;
    const a = l.loraA(adapter).weight;
    const b = l.loraB(adapter).weight;
    setMagnitude(l, adapter, doraWeightNormComposed(l.linearWeight(), a, b, l.scaling.get(adapter)!));
  },
  forward(layer, adapter, x, result) {
    const l = layer as LoraLinear;
    const dropout = l.dropoutFor(adapter);
    const { norm, weight } = linearNorm(l, adapter);
    const k = magnitude(l, adapter).div(norm);
    if (!isDropoutActive(dropout))
      return rescale(result, scaledLora(l, adapter, x), k, l.baseLayer.param('bias'));
    // PEFT recomputes the base output on the dropped input, without bias. W is read as stored: the
    // product promotes mixed dtypes itself, so no per-step copy of W is made here.
    const hidden = dropout.call(x);
    return rescaleDropped(result, hidden.matmul(weight.T), scaledLora(l, adapter, hidden), k);
  },
  fusedForward(layer, adapter, x, fused) {
    const l = layer as LoraLinear;
    const { norm, weight } = linearNorm(l, adapter);
    const k = magnitude(l, adapter).div(norm);
    const bias = l.baseLayer.param('bias');
    // The dtype of the base output x·Wᵀ + b, which the general path returns.
    const outDtype = promoteTypes(promoteTypes(x.dtype, weight.dtype), bias?.dtype ?? weight.dtype);
    return fusedRescale(fused(null), k, bias, outDtype);
  },
  mergeWeight(layer, adapter, weight, pristine) {
    const l = layer as LoraLinear;
    const delta = l.deltaWeight(adapter);
    const base = l.merged ? pristine() : weight;
    const linear = (t: Tensor) => (l.fanInFanOut ? t.T : t);
    const norm = rememberMergeNorm(l, adapter, rowNorm(linear(base).add(linear(delta))));
    const factor = magnitude(l, adapter).div(norm).reshape(-1, 1);
    return linear(linear(weight).add(linear(delta)).mul(factor)).contiguous();
  },
  unmergeWeight(layer, adapter, weight, forget) {
    const l = layer as LoraLinear;
    const linear = (t: Tensor) => (l.fanInFanOut ? t.T : t);
    return withMergeNorm(l, adapter, forget, (norm) => {
      const factor = magnitude(l, adapter).div(norm).reshape(-1, 1);
      return linear(
        linear(weight)
          .div(factor)
          .sub(linear(l.deltaWeight(adapter))),
      ).contiguous();
    });
  },
};

const embeddingDora: LoraVariant = {
  name: 'dora',
  initialize(layer, adapter) {
    const l = layer as LoraEmbedding;
    noGrad(() => {
      setMagnitude(
        l,
        adapter,
        rowNorm(l.baseWeight().T.add(l.loraProduct(adapter).mul(l.scaling.get(adapter)!))),
      );
    });
  },
  forward(layer, adapter, ids, result) {
    const l = layer as LoraEmbedding;
    const scale = l.scaling.get(adapter)!;
    const a = l.embeddingA(adapter);
    const b = l.embeddingB(adapter);
    // W is stored [vocab, dim]; the norm is per embedding dimension, over Wᵀ's rows (W's columns).
    const { weight, squaredNorm } = storedWeight(l, [0]);
    const k = magnitude(l, adapter).div(doraWeightNorm(weight.T, a, b, scale, squaredNorm));
    return rescale(result, embedding(ids, a.T).mul(scale).matmul(b.T), k, null);
  },
  mergeWeight(layer, adapter, weight, pristine) {
    const l = layer as LoraEmbedding;
    const delta = l.deltaWeight(adapter);
    const base = l.merged ? pristine() : weight;
    const norm = rememberMergeNorm(l, adapter, rowNorm(base.T.add(delta.T)));
    return weight.add(delta).mul(magnitude(l, adapter).div(norm).reshape(1, -1));
  },
  unmergeWeight(layer, adapter, weight, forget) {
    const l = layer as LoraEmbedding;
    return withMergeNorm(l, adapter, forget, (norm) =>
      weight.div(magnitude(l, adapter).div(norm).reshape(1, -1)).sub(l.deltaWeight(adapter)),
    );
  },
};

/** ‖W‖ over every dim but the output channel, as (1, Cout, 1, …) like PEFT. */
function convNorm(w: Tensor): Tensor {
  const axes = Array.from({ length: w.rank - 1 }, (_, i) => i + 1);
  return w.square().sum(axes, true).sqrt().transpose(0, 1);
}

const convDora: LoraVariant = {
  name: 'dora',
  initialize(layer, adapter) {
    const l = layer as LoraConv;
    noGrad(() => {
      setMagnitude(
        l,
        adapter,
        convNorm(l.baseWeight().add(l.loraProduct(adapter).mul(l.scaling.get(adapter)!))),
      );
    });
  },
  forward(layer, adapter, x, result) {
    const l = layer as LoraConv;
    const dropout = l.dropoutFor(adapter);
    const scale = l.scaling.get(adapter)!;
    const stored = l.base.weight;
    const channels = stored.shape[0]!;
    const nd = stored.rank - 2;
    const channelShape = [1, -1, ...new Array<number>(nd).fill(1)];
    // Flattened, a conv is a linear map: W [Cout, Cin·k…], A [r, Cin·k…], B [Cout, r] (groups = 1).
    const { weight, squaredNorm } = storedWeight(
      l,
      Array.from({ length: nd + 1 }, (_, i) => i + 1),
    );
    const a = l.loraA(adapter).weight;
    const b = l.loraB(adapter).weight;
    const r = a.shape[0]!;
    const norm = doraWeightNorm(
      weight.reshape(channels, -1),
      a.reshape(r, -1),
      b.reshape(channels, r),
      scale,
      squaredNorm,
    );
    const k = magnitude(l, adapter).div(norm.reshape(channelShape));
    if (!isDropoutActive(dropout)) {
      const bias = l.base.bias;
      return rescale(result, scaledLora(l, adapter, x), k, bias ? bias.reshape(channelShape) : null);
    }
    const hidden = dropout.call(x);
    const baseResult = conv(hidden, weight, null, l.base.convOptions, nd);
    return rescaleDropped(result, baseResult, scaledLora(l, adapter, hidden), k);
  },
  mergeWeight(layer, adapter, weight, pristine) {
    const l = layer as LoraConv;
    const delta = l.deltaWeight(adapter);
    const base = l.merged ? pristine() : weight;
    const norm = rememberMergeNorm(l, adapter, convNorm(base.add(delta)));
    const factor = magnitude(l, adapter)
      .div(norm)
      .reshape([-1, ...new Array<number>(weight.rank - 1).fill(1)]);
    return weight.add(delta).mul(factor);
  },
  unmergeWeight(layer, adapter, weight, forget) {
    const l = layer as LoraConv;
    return withMergeNorm(l, adapter, forget, (norm) => {
      const factor = magnitude(l, adapter)
        .div(norm)
        .reshape([-1, ...new Array<number>(weight.rank - 1).fill(1)]);
      return weight.div(factor).sub(l.deltaWeight(adapter));
    });
  },
};

/** Registers DoRA (`use_dora: true`) for linear, embedding and conv layers. */
export function registerDora(): void {
  registerLoraVariant({
    name: 'dora',
    enabled: (config) => config.useDora,
    layers: { linear: linearDora, embedding: embeddingDora, conv: convDora },
  });
}
