import { type AnyModule, Identity, type ModuleDict, Parameter } from '@lorakit/nn';
import { conv, embedding, noGrad, type Tensor } from '@lorakit/tensor';
import { MergeError } from '../errors.js';
import type { LoraConv } from '../layers/lora-conv.js';
import type { LoraEmbedding } from '../layers/lora-embedding.js';
import { type LoraLayer, MagnitudeVector } from '../layers/lora-layer.js';
import type { LoraLinear } from '../layers/lora-linear.js';
import { type LoraVariant, registerLoraVariant } from './variant.js';

/**
 * DoRA — weight-decomposed low-rank adaptation (Liu et al., 2024, arXiv:2402.09353): the adapted weight
 * is m · (W + sBA) / ‖W + sBA‖ with a trainable magnitude m per output channel. As in the paper (§4.3) and
 * PEFT, the norm is detached: gradients reach m, and A, B only through the low-rank branch.
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

function isDropoutActive(dropout: AnyModule): boolean {
  return !(dropout instanceof Identity) && dropout.training;
}

function cacheKey(adapter: string): string {
  return `${adapter}-weight_norm`;
}

const linearDora: LoraVariant = {
  name: 'dora',
  initialize(layer, adapter) {
    const l = layer as LoraLinear;
    noGrad(() => {
      const w = l.linearWeight();
      setMagnitude(l, adapter, rowNorm(w.add(l.loraProduct(adapter).mul(l.scaling.get(adapter)!))));
    });
  },
  forward(layer, adapter, x, result) {
    const l = layer as LoraLinear;
    const dropout = l.dropoutFor(adapter);
    const scale = l.scaling.get(adapter)!;
    const w = l.linearWeight();
    let hidden: Tensor;
    let baseResult: Tensor;
    if (isDropoutActive(dropout)) {
      hidden = dropout.call(x);
      baseResult = hidden.matmul(w.T);
    } else {
      hidden = x;
      const bias = l.baseLayer.param('bias');
      baseResult = bias ? result.sub(bias) : result;
    }
    const norm = noGrad(() => rowNorm(w.add(l.loraProduct(adapter).mul(scale))));
    const k = magnitude(l, adapter).div(norm);
    const lora = l.loraB(adapter).call(l.loraA(adapter).call(hidden)).mul(scale);
    return result.add(k.sub(1).mul(baseResult)).add(k.mul(lora));
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
    const norm = noGrad(() => rowNorm(l.baseWeight().T.add(l.loraProduct(adapter).mul(scale))));
    const k = magnitude(l, adapter).div(norm);
    const dora = k.mul(embedding(ids, l.embeddingA(adapter).T).matmul(l.embeddingB(adapter).T).mul(scale));
    return k.mul(result).add(dora);
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
    const w = l.baseWeight();
    const nd = w.rank - 2;
    const channelShape = [1, -1, ...new Array<number>(nd).fill(1)];
    let hidden: Tensor;
    let baseResult: Tensor;
    if (isDropoutActive(dropout)) {
      hidden = dropout.call(x);
      baseResult = conv(hidden, w, null, l.base.convOptions, nd);
    } else {
      hidden = x;
      const bias = l.base.bias;
      baseResult = bias ? result.sub(bias.reshape(channelShape)) : result;
    }
    const norm = noGrad(() => convNorm(w.add(l.loraProduct(adapter).mul(scale))));
    const k = magnitude(l, adapter).div(norm);
    const lora = l.loraB(adapter).call(l.loraA(adapter).call(hidden)).mul(scale);
    return result.add(k.sub(1).mul(baseResult)).add(k.mul(lora));
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
