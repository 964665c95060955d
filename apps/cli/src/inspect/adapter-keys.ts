import { KEY_PREFIX } from '@lorakit/lora';

/** What one saved adapter tensor is, from its PEFT key. */
export type AdapterKeyRole =
  | {
      kind: 'lora_A' | 'lora_B' | 'lora_B_bias' | 'embedding_A' | 'embedding_B' | 'magnitude';
      module: string;
    }
  | { kind: 'modules_to_save'; module: string }
  | { kind: 'trainable_tokens'; module: string }
  | { kind: 'full'; module: string };

const FACTOR_SUFFIXES: readonly [string, AdapterKeyRole['kind']][] = [
  ['.lora_A.weight', 'lora_A'],
  ['.lora_B.weight', 'lora_B'],
  ['.lora_B.bias', 'lora_B_bias'],
  ['.lora_embedding_A', 'embedding_A'],
  ['.lora_embedding_B', 'embedding_B'],
  ['.lora_magnitude_vector', 'magnitude'],
];

/**
 * Classifies a key of adapter_model.safetensors: a LoRA factor of a module, a modules_to_save copy, the
 * trained rows of trainable tokens (`trainable_token_indices`), or a full tensor of the base model saved
 * with the adapter (embedding layers, trained biases).
 */
export function adapterKeyRole(key: string): AdapterKeyRole {
  const name = key.startsWith(KEY_PREFIX) ? key.slice(KEY_PREFIX.length) : key;
  for (const [suffix, kind] of FACTOR_SUFFIXES) {
    if (name.endsWith(suffix)) return { kind, module: name.slice(0, -suffix.length) } as AdapterKeyRole;
  }
  const tokens = '.token_adapter.trainable_tokens_delta';
  if (name.endsWith(tokens)) return { kind: 'trainable_tokens', module: name.slice(0, -tokens.length) };
  const saved = name.indexOf('.modules_to_save.');
  if (saved >= 0) return { kind: 'modules_to_save', module: name.slice(0, saved) };
  return { kind: 'full', module: name };
}
