import type { Parameter } from '@lorakit/nn';
import { LoraConv } from '../layers/lora-conv.js';
import { LoraEmbedding } from '../layers/lora-embedding.js';
import type { LoraLayer } from '../layers/lora-layer.js';
import { LoraLinear } from '../layers/lora-linear.js';
import type { PeftModel } from '../model/peft-model.js';
import { savedEmbeddingLayers } from './embedding-layers.js';

/** Saved keys carry this prefix (PEFT's `base_model.model.`). */
export const KEY_PREFIX = 'base_model.model.';

/**
 * The tensors of one adapter as PEFT saves them: saved key → the parameter that holds it. This is the
 * one place that knows PEFT's key naming (adapter name removed; `lora_embedding_A/B` and
 * `lora_magnitude_vector` without `.weight`; modules_to_save copies at the wrapper's path; biases per
 * the `bias` option; embedding base weights when `save_embedding_layers` applies). Saving writes these
 * tensors and loading fills exactly these parameters.
 */
export function adapterTensors(
  peft: PeftModel,
  adapter: string,
  options: { saveEmbeddingLayers?: boolean | 'auto' } = {},
): Map<string, Parameter> {
  const config = peft.peftConfig.get(adapter);
  const out = new Map<string, Parameter>();
  if (!config) return out;
  const layers = peft.loraLayers();
  for (const [path, layer] of layers) {
    if (!layer.hasAdapter(adapter)) continue;
    for (const [suffix, param] of layerTensors(layer, adapter))
      out.set(`${KEY_PREFIX}${path}.${suffix}`, param);
  }
  if (config.bias === 'all') {
    const others = [...peft.peftConfig.keys()].filter((a) => a !== adapter);
    for (const [name, param] of peft.model.namedParameters({ removeDuplicate: false })) {
      if (!(name === 'bias' || name.endsWith('.bias'))) continue;
      if (others.some((o) => name.includes(`.${o}.`) || name.endsWith(`.${o}`))) continue;
      if (/\.lora_B\.[^.]+\.bias$/.test(name)) continue;
      // PEFT's `"bias" in key` takes modules_to_save copies' and original modules' biases too, and drops
      // the adapter name: `classifier.modules_to_save.default.bias` → `classifier.modules_to_save.bias`.
      const key = name.replace(`.modules_to_save.${adapter}.`, '.modules_to_save.');
      if (key === name && name.includes('.modules_to_save.')) continue;
      out.set(`${KEY_PREFIX}${key}`, param);
    }
  } else if (config.bias.endsWith('_only')) {
    for (const [path, layer] of layers) {
      const bias = layer.baseLayer.ownParameters().find(([n]) => n === 'bias')?.[1];
      if (bias && layer.hasAdapter(adapter)) out.set(`${KEY_PREFIX}${path}.base_layer.bias`, bias);
    }
  }
  for (const [path, wrapper] of peft.wrappers()) {
    if (!wrapper.adapters.has(adapter)) continue;
    for (const [name, param] of wrapper.copyFor(adapter).namedParameters({ removeDuplicate: false })) {
      out.set(`${KEY_PREFIX}${path}.${name}`, param);
    }
  }
  const embeddings = options.saveEmbeddingLayers ?? 'auto';
  for (const [path, param] of savedEmbeddingLayers(peft, adapter, embeddings))
    out.set(`${KEY_PREFIX}${path}`, param);
  return out;
}

function layerTensors(layer: LoraLayer, adapter: string): [string, Parameter][] {
  const out: [string, Parameter][] = [];
  if (layer instanceof LoraEmbedding) {
    out.push(
      ['lora_embedding_A', layer.embeddingA(adapter)],
      ['lora_embedding_B', layer.embeddingB(adapter)],
    );
  } else if (layer instanceof LoraLinear || layer instanceof LoraConv) {
    const a = layer.loraA(adapter);
    const b = layer.loraB(adapter);
    out.push(['lora_A.weight', a.weight], ['lora_B.weight', b.weight]);
    if (b.bias) out.push(['lora_B.bias', b.bias]);
  } else {
    const { a, b, bBias } = layer.factorParameters(adapter);
    out.push(['lora_A.weight', a], ['lora_B.weight', b]);
    if (bBias) out.push(['lora_B.bias', bBias]);
  }
  const magnitudes = layer.child('lora_magnitude_vector');
  if (magnitudes.hasChild(adapter))
    out.push(['lora_magnitude_vector', magnitudes.child(adapter).param('weight')!]);
  return out;
}
