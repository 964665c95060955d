import { join } from 'node:path';
import {
  adapterTensors,
  checkAdapterFit,
  checkTargetModule,
  type LoraConfig,
  PeftModel,
  readAdapterConfig,
} from '@lorakit/lora';
import { type ModelConfig, readConfig } from '@lorakit/models';
import { type AnyModule, Conv1D, Embedding, Linear, Module, type Parameter } from '@lorakit/nn';
import { type Dtype, openTensorSource, SafetensorsFile, type TensorSource } from '@lorakit/safetensors';
import { noGrad, type Tensor, tensor } from '@lorakit/tensor';
import { adapterKeyRole } from '../inspect/adapter-keys.js';
import type { LazyTensor } from './checkpoint-writer.js';

/** A module tree that only holds modules at given paths (never run: merging needs no forward). */
class Holder extends Module {
  forward(): never {
    throw new Error('a merge holder is never run');
  }
  /** Places `leaf` at a dotted path, creating holders for the parents. */
  mount(path: string, leaf: AnyModule): void {
    const parts = path.split('.');
    let node: Module = this;
    for (const part of parts.slice(0, -1)) {
      if (!node.hasChild(part)) node.registerModule(part, new Holder());
      node = node.child(part);
    }
    node.registerModule(parts.at(-1)!, leaf);
  }
}

/** Why an adapter cannot be merged one module at a time (then the whole model is loaded instead). */
export function streamingBlocker(
  config: LoraConfig,
  adapterKeys: readonly string[],
  base: TensorSource,
  modelConfig: ModelConfig,
): string | undefined {
  if (config.layerReplication) return 'layer_replication changes the model structure';
  if (config.loraBias) return 'lora_bias also changes base biases';
  if (config.targetModules === null) return 'target_modules is not stored in adapter_config.json';
  const present = new Set(base.names());
  for (const key of adapterKeys) {
    const role = adapterKeyRole(key);
    if (role.kind === 'full') return `the adapter stores the full tensor ${role.module}`;
    if (role.kind === 'trainable_tokens') return `the adapter trains token rows of ${role.module}`;
    if (role.kind === 'modules_to_save') {
      const rest = key.slice(key.indexOf('.modules_to_save.') + '.modules_to_save.'.length);
      if (!present.has(`${role.module}.${rest}`))
        return `modules_to_save tensor ${role.module}.${rest} is not in the checkpoint under that name`;
      continue;
    }
    if (!present.has(`${role.module}.weight`)) {
      return `${role.module}.weight is not stored in the checkpoint under that name (a tied or renamed weight)`;
    }
    if (role.kind === 'lora_A' && base.info(`${role.module}.weight`).shape.length > 2)
      return `${role.module} is a convolution`;
  }
  if (
    modelConfig.modelType === 'gpt2' &&
    [...present].some((n) => !n.startsWith('transformer.') && n !== 'lm_head.weight')
  ) {
    return 'the GPT-2 checkpoint uses unprefixed names';
  }
  return undefined;
}

/** Names of embedding modules in the checkpoints @lorakit/models reads (PEFT wraps them as LoraEmbedding). */
const EMBEDDING = /(^|\.)(embed_tokens|wte|wpe|word_embeddings|position_embeddings|token_type_embeddings)$/;

/** The layer type a module has in the model (for LoRA dispatch: Conv1D means fan_in_fan_out). */
function leafFor(
  module: string,
  shape: readonly number[],
  hasBias: boolean,
  modelConfig: ModelConfig,
  embedding: boolean,
): AnyModule {
  const [rows, columns] = shape as [number, number];
  if (embedding) return new Embedding(rows, columns, { init: false });
  if (modelConfig.modelType === 'gpt2' && /(^|\.)(c_attn|c_proj|c_fc)$/.test(module)) {
    return new Conv1D(columns, rows, { init: false });
  }
  return new Linear(columns, rows, { bias: hasBias, init: false });
}

/**
 * A one-module PeftModel: `leaf` mounted at its path with the adapter injected by @lorakit/lora itself
 * (targeting, DoRA, Conv1D and embedding layouts as the library does them), plus the tensors the
 * adapter file must hold for it (`adapterTensors`, the keys loadAdapter expects).
 */
function singleModule(
  module: string,
  leaf: AnyModule,
  config: LoraConfig,
): { peft: PeftModel; tensors: Map<string, Parameter> } {
  const holder = new Holder();
  holder.mount(module, leaf);
  const peft = new PeftModel(holder);
  const single = config.clone();
  single.modulesToSave = null;
  single.trainableTokenIndices = null;
  peft.addAdapter('default', single, { initWeights: false });
  return { peft, tensors: adapterTensors(peft, 'default') };
}

/**
 * The modules the adapter's config targets in the checkpoint, by @lorakit/lora's own matching
 * (`checkTargetModule`; 'all-linear' as every linear layer but the output layer): name → embedding?
 * Only 2-D weights are candidates (convolutions and layers with stored base tensors are merged in memory).
 */
export function streamingTargets(
  config: LoraConfig,
  base: TensorSource,
  adapterKeys: readonly string[],
): Map<string, boolean> {
  const embeddingKeys = new Set(
    adapterKeys.filter((k) => adapterKeyRole(k).kind === 'embedding_A').map((k) => adapterKeyRole(k).module),
  );
  const candidates = base
    .names()
    .filter((n) => n.endsWith('.weight') && base.info(n).shape.length === 2)
    .map((n) => n.slice(0, -'.weight'.length));
  const isEmbedding = (m: string) => embeddingKeys.has(m) || EMBEDDING.test(m);
  let matcher = config;
  if (config.targetModules === 'all-linear') {
    matcher = config.clone();
    matcher.targetModules = new Set(
      candidates.filter((m) => !isEmbedding(m) && !/(^|\.)lm_head$/.test(m)).map((m) => m.split('.').pop()!),
    );
  }
  const targets = new Map<string, boolean>();
  for (const module of candidates) {
    if (config.targetModules === 'all-linear' && (isEmbedding(module) || /(^|\.)lm_head$/.test(module)))
      continue;
    if (checkTargetModule(matcher, module) === 'match') targets.set(module, isEmbedding(module));
  }
  return targets;
}

/**
 * Checks the adapter file against the checkpoint with loadAdapter's own check (`checkAdapterFit`):
 * the tensors each targeted module needs (from a one-module PeftModel built on a weightless layer of
 * the same shape) plus the adapter's modules_to_save copies, exactly — missing, unexpected, misshapen
 * or integer tensors are one error naming them and the file.
 */
export function checkStreamingFit(
  targets: ReadonlyMap<string, boolean>,
  base: TensorSource,
  adapter: SafetensorsFile,
  config: LoraConfig,
  modelConfig: ModelConfig,
): void {
  if (targets.size === 0) {
    const wanted =
      config.targetModules instanceof Set ? [...config.targetModules].join(', ') : config.targetModules;
    throw new Error(`[merge] target_modules ${wanted} matched no weight of the checkpoint`);
  }
  const names = new Set(base.names());
  const leaves = new Map<string, AnyModule>();
  const expected = new Map<string, { shape: readonly number[] }>();
  for (const [module, embedding] of targets) {
    const shape = base.info(`${module}.weight`).shape;
    const hasBias = names.has(`${module}.bias`);
    const gpt2Conv = modelConfig.modelType === 'gpt2' && /(^|\.)(c_attn|c_proj|c_fc)$/.test(module);
    // Layers of one shape and kind give the same tensors: one small stand-in per kind serves them all.
    const kind = `${embedding}:${gpt2Conv}:${hasBias}:${shape.join('x')}`;
    let leaf = leaves.get(kind);
    if (!leaf) {
      leaf = leafFor(module, shape, hasBias, modelConfig, embedding);
      leaves.set(kind, leaf);
    }
    for (const [key, parameter] of singleModule(module, leaf, config).tensors) {
      expected.set(key, { shape: parameter.shape });
    }
  }
  for (const key of adapter.names()) {
    if (adapterKeyRole(key).kind === 'modules_to_save') expected.set(key, { shape: adapter.info(key).shape });
  }
  checkAdapterFit(expected, adapter, adapter.path, 'merge');
}

function read(source: TensorSource, name: string): Tensor {
  const { data, shape } = source.readSync(name);
  return tensor(data as Float32Array, { shape, dtype: 'float32' });
}

/**
 * The merged checkpoint as lazy tensors, in the base checkpoint's order: a weight that the adapter's
 * config targets is merged when the writer reaches it, with @lorakit/lora's own merge (a one-layer
 * PeftModel holding just that module, so DoRA, rsLoRA, rank/alpha patterns and Conv1D/embedding layouts
 * follow the library); modules_to_save tensors are replaced by the adapter's copies; everything else is
 * copied. At most one base tensor, its factors and its merged value are in memory at a time. Targets
 * come from the config, as loading finds them, never from the keys the file happens to hold.
 */
export function mergedTensors(
  modelDir: string,
  adapterDir: string,
  options: { safeMerge: boolean; dtype?: Dtype },
): {
  tensors: LazyTensor[];
  base: TensorSource;
  adapter: SafetensorsFile;
  config: LoraConfig;
  modelConfig: ModelConfig;
  blocker: string | undefined;
  targets: ReadonlyMap<string, boolean>;
} {
  const config = readAdapterConfig(adapterDir);
  const modelConfig = readConfig(modelDir);
  const base = openTensorSource(modelDir);
  const adapter = SafetensorsFile.open(join(adapterDir, 'adapter_model.safetensors'));
  const keys = adapter.names();
  const blocker = streamingBlocker(config, keys, base, modelConfig);
  const targets = blocker === undefined ? streamingTargets(config, base, keys) : new Map<string, boolean>();
  const replacements = new Map<string, string>();
  for (const key of keys) {
    const role = adapterKeyRole(key);
    if (role.kind === 'modules_to_save') {
      replacements.set(
        `${role.module}.${key.slice(key.indexOf('.modules_to_save.') + '.modules_to_save.'.length)}`,
        key,
      );
    }
  }
  const names = new Set(base.names());
  const tensors: LazyTensor[] = base.names().map((name) => {
    const info = base.info(name);
    const dtype = options.dtype ?? (info.dtype as Dtype);
    const module = name.endsWith('.weight') ? name.slice(0, -'.weight'.length) : undefined;
    const replacement = replacements.get(name);
    let data: () => Float32Array | Float64Array;
    if (replacement) data = () => adapter.readSync(replacement).data as Float32Array;
    else if (module !== undefined && targets.has(module)) {
      data = () =>
        mergeOne(module, targets.get(module)!, base, adapter, config, modelConfig, names, options.safeMerge);
    } else data = () => base.readSync(name).data as Float32Array;
    return { name, dtype, shape: info.shape, data };
  });
  return { tensors, base, adapter, config, modelConfig, blocker, targets };
}

function mergeOne(
  module: string,
  embedding: boolean,
  base: TensorSource,
  adapter: SafetensorsFile,
  config: LoraConfig,
  modelConfig: ModelConfig,
  names: ReadonlySet<string>,
  safeMerge: boolean,
): Float32Array {
  return noGrad(() => {
    const weight = read(base, `${module}.weight`);
    const hasBias = names.has(`${module}.bias`);
    const leaf = leafFor(module, weight.shape, hasBias, modelConfig, embedding);
    leaf.param('weight')!.assign(weight);
    if (hasBias) leaf.param('bias')!.assign(read(base, `${module}.bias`));
    const { peft, tensors } = singleModule(module, leaf, config);
    for (const [key, parameter] of tensors) {
      const { data, shape } = adapter.readSync(key);
      parameter.assign(tensor(data as Float32Array, { shape }));
    }
    const merged = peft.mergeAndUnload({ safeMerge });
    return merged.getSubmodule(module).param('weight')!.contiguous().toArray() as Float32Array;
  });
}
