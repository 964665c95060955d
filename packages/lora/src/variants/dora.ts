import { type AnyModule, Identity, type ModuleDict, Parameter } from '@lorakit/nn';
import { conv, embedding, noGrad, type Tensor } from '@lorakit/tensor';
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

/**
 * `result + (k−1)⊙base + k⊙s·lora` when dropout is off, where base = result − bias (PEFT's formula, the
 * base output reused): the same value as `k⊙result + (k·s)⊙lora + (1−k)⊙bias`, which takes two
 * full-size products and one sum. `k` and `bias` are already shaped to broadcast over the channels.
 */
function rescale(result: Tensor, lora: Tensor, k: Tensor, scale: number, bias: Tensor | null): Tensor {
  const out = result.mul(k).add(lora.mul(k.mul(scale)));
  return bias ? out.add(k.neg().add(1).mul(bias)) : out;
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
    const scale = l.scaling.get(adapter)!;
    const { norm, weight } = linearNorm(l, adapter);
    const k = magnitude(l, adapter).div(norm);
    if (!isDropoutActive(dropout)) {
      const lora = l.loraB(adapter).call(l.loraA(adapter).call(x));
      return rescale(result, lora, k, scale, l.baseLayer.param('bias'));
    }
    // PEFT recomputes the base output on the dropped input, without bias. W is read as stored: the
    // product promotes mixed dtypes itself, so no per-step copy of W is made here.
    const hidden = dropout.call(x);
    const baseResult = hidden.matmul(weight.T);
    const lora = l.loraB(adapter).call(l.loraA(adapter).call(hidden));
    return result.add(k.sub(1).mul(baseResult)).add(lora.mul(k.mul(scale)));
  },
  mergeWeight(layer, adapter, weight, pristine) {
    const l = layer as LoraLinear;
    const delta = l.deltaWeight(adapter);
    const base = l.merged ? pristine() : weight;
    const linear = (t: Tensor) => (l.fanInFanOut ? t.T : t);
    const norm = rowNorm(linear(base).add(linear(delta)));
    l.mergeCache.set(cacheKey(adapter), norm);
    const factor = magnitude(l, adapter).div(norm).reshape(-1, 1);
    return linear(linear(weight).add(linear(delta)).mul(factor)).contiguous();
  },
  unmergeWeight(layer, adapter, weight, forget) {
    const l = layer as LoraLinear;
    const norm = l.mergeCache.get(cacheKey(adapter));
    if (!norm)
      throw new MergeError(
        `[dora] no cached weight norm for adapter "${adapter}"; it was not merged in this process`,
      );
    if (forget) l.mergeCache.delete(cacheKey(adapter));
    const linear = (t: Tensor) => (l.fanInFanOut ? t.T : t);
    const factor = magnitude(l, adapter).div(norm).reshape(-1, 1);
    return linear(
      linear(weight)
        .div(factor)
        .sub(linear(l.deltaWeight(adapter))),
    ).contiguous();
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
    return rescale(result, embedding(ids, a.T).matmul(b.T), k, scale, null);
  },
  mergeWeight(layer, adapter, weight, pristine) {
    const l = layer as LoraEmbedding;
    const delta = l.deltaWeight(adapter);
    const base = l.merged ? pristine() : weight;
    const norm = rowNorm(base.T.add(delta.T));
    l.mergeCache.set(cacheKey(adapter), norm);
    return weight.add(delta).mul(magnitude(l, adapter).div(norm).reshape(1, -1));
  },
  unmergeWeight(layer, adapter, weight, forget) {
    const l = layer as LoraEmbedding;
    const norm = l.mergeCache.get(cacheKey(adapter));
    if (!norm)
      throw new MergeError(
        `[dora] no cached weight norm for adapter "${adapter}"; it was not merged in this process`,
      );
    if (forget) l.mergeCache.delete(cacheKey(adapter));
    return weight.div(magnitude(l, adapter).div(norm).reshape(1, -1)).sub(l.deltaWeight(adapter));
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
      const lora = l.loraB(adapter).call(l.loraA(adapter).call(x));
      const bias = l.base.bias;
      return rescale(result, lora, k, scale, bias ? bias.reshape(channelShape) : null);
    }
    const hidden = dropout.call(x);
    const baseResult = conv(hidden, weight, null, l.base.convOptions, nd);
    const lora = l.loraB(adapter).call(l.loraA(adapter).call(hidden));
    return result.add(k.sub(1).mul(baseResult)).add(lora.mul(k.mul(scale)));
  },
  mergeWeight(layer, adapter, weight, pristine) {
    const l = layer as LoraConv;
    const delta = l.deltaWeight(adapter);
    const base = l.merged ? pristine() : weight;
    const norm = convNorm(base.add(delta));
    l.mergeCache.set(cacheKey(adapter), norm);
    const factor = magnitude(l, adapter)
      .div(norm)
      .reshape([-1, ...new Array<number>(weight.rank - 1).fill(1)]);
    return weight.add(delta).mul(factor);
  },
  unmergeWeight(layer, adapter, weight, forget) {
    const l = layer as LoraConv;
    const norm = l.mergeCache.get(cacheKey(adapter));
    if (!norm)
      throw new MergeError(
        `[dora] no cached weight norm for adapter "${adapter}"; it was not merged in this process`,
      );
    if (forget) l.mergeCache.delete(cacheKey(adapter));
    const factor = magnitude(l, adapter)
      .div(norm)
      .reshape([-1, ...new Array<number>(weight.rank - 1).fill(1)]);
    return weight.div(factor).sub(l.deltaWeight(adapter));
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
