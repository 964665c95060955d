import { findInitStrategy, type LoraConfig } from '@lorakit/lora';
import type { AdapterModuleSummary } from './adapter-summary.js';

/** What the init named in the config means for the base model: the registered strategy says. */
function initWarning(config: LoraConfig): string | undefined {
  const value = config.initLoraWeights;
  const strategy = findInitStrategy(value);
  if (!strategy) {
    return `init_lora_weights "${String(value)}" is not registered by any installed package: whether this adapter needs a base model its init rewrote cannot be told; install the package that provides it`;
  }
  if (!strategy.modifiesBaseWeight) return undefined;
  return `init_lora_weights "${String(value)}" rewrote the base weight: this adapter belongs to the residual (or quantized) base its init wrote, not the original model; use it with that base, or convert it to plain LoRA with \`lorakit convert --initial <init adapter> --trained <this adapter>\` where the init supports conversion`;
}

/**
 * Warnings about where an adapter will not work as it is: serving stacks that load plain LoRA factors
 * only (vLLM's LoRA loader, llama.cpp's convert_lora_to_gguf.py and similar), and inits whose adapters
 * belong to a modified base model. Each message names the modules or fields and what to do instead.
 */
export function compatibilityWarnings(
  config: LoraConfig,
  modules: readonly AdapterModuleSummary[],
  fullTensors: readonly { name: string; shape?: readonly number[]; role: string }[],
): string[] {
  const warnings: string[] = [];
  const names = (list: readonly string[]) =>
    list.length > 6 ? `${list.slice(0, 6).join(', ')}, … (${list.length})` : list.join(', ');
  const saved = config.modulesToSave ?? [];
  if (saved.length || fullTensors.some((t) => t.role === 'modules_to_save')) {
    warnings.push(
      `modules_to_save (${names(saved)}) stores full trained copies of those modules: vLLM rejects adapters with modules_to_save and llama.cpp's convert_lora_to_gguf.py stops on tensors that are not LoRA factors; merge the adapter into the model (lorakit merge) to serve it there`,
    );
  }
  const embeddingTargets = modules
    .filter((m) => m.kind === 'embedding' || /(^|\.)(lm_head|embed_tokens|wte|embed_out)$/.test(m.name))
    .map((m) => m.name);
  if (embeddingTargets.length) {
    warnings.push(
      `LoRA on the embeddings or the LM head (${names(embeddingTargets)}): llama.cpp's converter rejects adapters that touch embed_tokens/lm_head, and many servers (vLLM among them, depending on version) load only attention/MLP targets`,
    );
  }
  const baseTensors = fullTensors.filter((t) => t.role === 'base tensor').map((t) => t.name);
  if (baseTensors.length) {
    warnings.push(
      `the adapter stores full base-model tensors (${names(baseTensors)}), e.g. resized embeddings or trained biases: converters that expect only lora_A/lora_B reject it, and it must be loaded with the same base model`,
    );
  }
  const tokenRows = fullTensors.filter((t) => t.role === 'trainable tokens');
  if (tokenRows.length) {
    warnings.push(
      `trainable tokens (trainable_token_indices: ${names(tokenRows.map((t) => `${t.shape?.[0]} rows of ${t.name.replace(/^base_model\.model\.|\.token_adapter\.trainable_tokens_delta$/g, '')}`))}): servers that apply only LoRA factors ignore them; merge the adapter into the model (lorakit merge) to serve it there`,
    );
  }
  if (config.useDora || modules.some((m) => m.dora)) {
    warnings.push(
      'DoRA (use_dora) is not supported by some inference servers (vLLM, llama.cpp adapters); merge it into the base model to serve it',
    );
  }
  if (config.bias !== 'none' || config.loraBias) {
    warnings.push(
      `the adapter trains biases (${config.loraBias ? 'lora_bias' : `bias="${config.bias}"`}); servers that apply only LoRA factors ignore or reject them`,
    );
  }
  if (config.layerReplication) {
    warnings.push(
      'layer_replication changes the model structure; only PEFT (and lorakit) can load this adapter',
    );
  }
  const init = initWarning(config);
  if (init) warnings.push(init);
  if (modules.some((m) => m.kind === 'conv')) {
    warnings.push('LoRA on convolution layers: text-generation servers load LoRA for linear layers only');
  }
  return warnings;
}
