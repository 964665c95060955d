import { type AnyModule, Embedding, type Parameter } from '@lorakit/nn';
import type { LoraConfig } from '../config/lora-config.js';
import { AdapterError, listNames } from '../errors.js';
import { LoraLayer } from '../layers/lora-layer.js';
import { ModulesToSaveWrapper } from './modules-to-save.js';
import { type TokenRows, TrainableTokensWrapper } from './trainable-tokens.js';

interface EmbeddingNames {
  getInputEmbeddings?: () => string;
  getOutputEmbeddings?: () => string | null;
}

/** The input embedding's path: the model's own answer, else the module named `embed_tokens`. */
function inputEmbedding(model: AnyModule): string {
  const named = (model as EmbeddingNames).getInputEmbeddings?.();
  if (named) return named;
  const found = model.namedModules().find(([name]) => name.split('.').pop() === 'embed_tokens');
  if (!found) {
    throw new AdapterError(
      '[lora] trainable_token_indices is a list, which applies to the input embedding, but the model names none and has no embed_tokens module; give an object of module name → indices',
    );
  }
  return found[0];
}

function weightParameter(module: AnyModule): Parameter | null {
  const inner = module instanceof ModulesToSaveWrapper ? module.original : module;
  return inner.ownParameters().find(([name]) => name === 'weight')?.[1] ?? null;
}

/**
 * PEFT's trainable tokens (`trainable_token_indices`): a list applies to the input embedding, an object
 * maps module names (matched as a dotted suffix) to indices. Each layer is wrapped in a
 * {@link TrainableTokensWrapper}; with tied word embeddings the output embedding gets a tied wrapper
 * that shares the input embedding's rows, as PEFT does.
 */
export function wrapTrainableTokens(model: AnyModule, config: LoraConfig, adapterName: string): void {
  const spec = config.trainableTokenIndices;
  if (spec === null) return;
  const entries: [string, readonly number[]][] = Array.isArray(spec)
    ? [[inputEmbedding(model), spec as readonly number[]]]
    : Object.entries(spec as Record<string, readonly number[]>);
  const modules = model.namedModules();
  const input = (model as EmbeddingNames).getInputEmbeddings?.();
  const output = (model as EmbeddingNames).getOutputEmbeddings?.() ?? undefined;
  for (const [key, indices] of entries) {
    const matches = modules.filter(([name]) => name === key || name.endsWith(`.${key}`));
    if (matches.length === 0) {
      throw new AdapterError(
        `[lora] trainable_token_indices names ${key}, which matches no module; embedding layers in this model: ${listNames(embeddingLayers(modules, output))}`,
      );
    }
    for (const [path, module] of matches) {
      const rows = addTokens(model, path, module, adapterName, indices);
      // Tied word embeddings: the output embedding uses the same weight, so it sees the same rows.
      if (path === input && output && output !== input) {
        const outputModule = model.getSubmodule(output);
        const shared = weightParameter(outputModule);
        if (shared && shared === weightParameter(model.getSubmodule(path))) {
          addTokens(model, output, outputModule, adapterName, indices, rows);
        }
      }
    }
  }
}

/** The Embedding modules and the output embedding: what trainable tokens usually target (for messages). */
function embeddingLayers(modules: readonly [string, AnyModule][], output: string | undefined): string[] {
  const names = modules.filter(([, m]) => m instanceof Embedding).map(([name]) => name);
  return output && !names.includes(output) ? [...names, output] : names;
}

function addTokens(
  model: AnyModule,
  path: string,
  module: AnyModule,
  adapterName: string,
  indices: readonly number[],
  tiedTo?: TokenRows,
): TokenRows {
  if (module instanceof LoraLayer) {
    throw new AdapterError(
      `[lora] ${path} is a LoRA target and cannot also have trainable tokens (trainable_token_indices)`,
    );
  }
  if (module instanceof TrainableTokensWrapper) return module.addTokens(adapterName, indices, tiedTo);
  if (module instanceof ModulesToSaveWrapper) {
    throw new AdapterError(
      `[lora] ${path} is saved whole (modules_to_save) and cannot also have trainable tokens (trainable_token_indices)`,
    );
  }
  const wrapper = new TrainableTokensWrapper(module, path);
  const rows = wrapper.addTokens(adapterName, indices, tiedTo);
  model.setSubmodule(path, wrapper);
  return rows;
}
