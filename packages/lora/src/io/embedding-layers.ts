import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AnyModule, Parameter } from '@lorakit/nn';
import { LoraLayer } from '../layers/lora-layer.js';
import type { PeftModel } from '../model/peft-model.js';

/** PEFT's `EMBEDDING_LAYER_NAMES`: the names whose presence in target_modules saves embedding layers. */
const EMBEDDING_LAYER_NAMES = ['embed_tokens', 'lm_head'] as const;

/** The model's input and output embedding paths (transformers' get_input/output_embeddings). */
function embeddingPaths(model: AnyModule): string[] {
  const m = model as { getInputEmbeddings?: () => string; getOutputEmbeddings?: () => string | null };
  if (typeof m.getInputEmbeddings === 'function') {
    const output = typeof m.getOutputEmbeddings === 'function' ? m.getOutputEmbeddings() : null;
    return [m.getInputEmbeddings(), ...(output ? [output] : [])];
  }
  // A model that does not say: the conventional names, as PEFT's EMBEDDING_LAYER_NAMES.
  return model
    .namedModules()
    .map(([path]) => path)
    .filter((path) => (EMBEDDING_LAYER_NAMES as readonly string[]).includes(path.split('.').pop()!));
}

/** Whether target_modules names an embedding layer, with PEFT's `k in config.target_modules` test. */
function embeddingInTargets(peft: PeftModel, adapter: string): boolean {
  const targets = peft.peftConfig.get(adapter)?.targetModules;
  if (targets instanceof Set) return EMBEDDING_LAYER_NAMES.some((name) => targets.has(name));
  // On a regex string Python's `in` is a substring test.
  if (typeof targets === 'string') return EMBEDDING_LAYER_NAMES.some((name) => targets.includes(name));
  return false;
}

/** PEFT's vocabulary probe: the base's config.json (a local folder) has another vocab_size than the model. */
function vocabularyResized(peft: PeftModel, adapter: string): boolean {
  const base = peft.peftConfig.get(adapter)?.baseModelNameOrPath;
  const vocabSize = (peft.model as { config?: { vocabSize?: unknown } }).config?.vocabSize;
  if (!base || typeof vocabSize !== 'number') return false;
  const path = join(base, 'config.json');
  if (!existsSync(path)) return false;
  try {
    const saved = (JSON.parse(readFileSync(path, 'utf8')) as { vocab_size?: unknown }).vocab_size;
    return typeof saved === 'number' && saved !== vocabSize;
  } catch {
    return false;
  }
}

/** The base-layer parameters of one module (a LoRA layer's `base_layer`), with their saved key paths. */
function baseParameters(path: string, module: AnyModule): [string, Parameter][] {
  const [owner, prefix] =
    module instanceof LoraLayer ? [module.baseLayer, `${path}.base_layer`] : [module, path];
  return owner.namedParameters({ removeDuplicate: false }).map(([name, p]) => [`${prefix}.${name}`, p]);
}

/**
 * The embedding-layer weights PEFT's `get_peft_model_state_dict` adds to an adapter (module path → the
 * parameter), by its `save_embedding_layers` rule. With 'auto', they are saved when target_modules names
 * `embed_tokens` or `lm_head` (then only the input/output embeddings that carry LoRA, as
 * `<path>.base_layer.weight`), or when the vocabulary differs from the base's config.json (then both
 * embeddings, as `<path>.weight`); `true` saves both embeddings, `false` none.
 */
export function savedEmbeddingLayers(
  peft: PeftModel,
  adapter: string,
  option: boolean | 'auto' = 'auto',
): Map<string, Parameter> {
  const inTargets = option === 'auto' && embeddingInTargets(peft, adapter);
  const save = option === 'auto' ? inTargets || vocabularyResized(peft, adapter) : option;
  const out = new Map<string, Parameter>();
  if (!save) return out;
  for (const path of embeddingPaths(peft.model)) {
    const module = peft.model.getSubmodule(path);
    if (inTargets && !(module instanceof LoraLayer)) continue;
    for (const [key, param] of baseParameters(path, module)) out.set(key, param);
  }
  return out;
}

/**
 * Every embedding-layer key an adapter file may carry (`<path>.weight`, or `<path>.base_layer.weight`
 * where LoRA wraps the layer), for loading: PEFT's
 * `set_peft_model_state_dict` loads whatever the file holds into the base, so these keys are applied
 * when present and never required.
 */
export function loadableEmbeddingLayers(peft: PeftModel): Map<string, Parameter> {
  const out = new Map<string, Parameter>();
  for (const path of embeddingPaths(peft.model)) {
    const module = peft.model.getSubmodule(path);
    for (const [key, param] of baseParameters(path, module)) out.set(key, param);
  }
  return out;
}
