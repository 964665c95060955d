import { type LoraConfig, LoraConfigError } from '@lorakit/lora';
import { cat, noGrad, type Tensor } from '@lorakit/tensor';
import { ConversionError } from '../errors.js';

/** An adapter as saved: its config and its tensors under their saved keys (`base_model.model.….lora_A.weight`). */
export interface AdapterWeights {
  readonly config: LoraConfig;
  readonly tensors: ReadonlyMap<string, Tensor>;
}

export interface ConvertedAdapter extends AdapterWeights {
  /** What PEFT would warn about (an init that is not base-mutating). */
  readonly warnings: string[];
}

/** Factor keys and the dimension their rank components run along (A: rows, B: columns). */
const FACTORS: readonly { suffix: string; dim: number; negate: boolean }[] = [
  { suffix: '.lora_A.weight', dim: 0, negate: false },
  { suffix: '.lora_B.weight', dim: 1, negate: true },
  { suffix: '.lora_embedding_A', dim: 0, negate: false },
  { suffix: '.lora_embedding_B', dim: 1, negate: true },
];

/** Inits whose adapters PEFT's conversion is meant for (`str(init).lower()` starts with one of these). */
const CONVERTIBLE_PREFIXES = ['pissa', 'corda', 'olora', 'lora_ga', 'true'];

/**
 * The config of the converted adapter (PEFT's `save_pretrained(…, path_initial_model_for_weight_conversion)`):
 * `init_lora_weights` true, rank 2r, α doubled (α·√2 with rsLoRA, so α/√r is kept), every
 * `rank_pattern` and `alpha_pattern` value doubled. The scaling of every layer is unchanged.
 */
export function convertedConfig(trained: LoraConfig): LoraConfig {
  if (
    trained.useRslora &&
    (Object.keys(trained.rankPattern).length > 0 || Object.keys(trained.alphaPattern).length > 0)
  ) {
    throw new LoraConfigError(
      '[convertToLora] Passing `path_initial_model_for_weight_conversion` to `save_pretrained` is not supported when using `rank_pattern` or `alpha_pattern` at the same time as `use_rslora=True`.',
    );
  }
  const config = trained.clone();
  config.initLoraWeights = true;
  config.r = 2 * trained.r;
  if (trained.useRslora) {
    config.loraAlpha = trained.loraAlpha * Math.SQRT2;
    config.floatPaths.add('lora_alpha');
  } else config.loraAlpha = 2 * trained.loraAlpha;
  config.rankPattern = Object.fromEntries(Object.entries(trained.rankPattern).map(([k, v]) => [k, 2 * v]));
  config.alphaPattern = Object.fromEntries(Object.entries(trained.alphaPattern).map(([k, v]) => [k, 2 * v]));
  return config;
}

/**
 * Turns a trained adapter of a base-mutating init (PiSSA, OLoRA, CorDA, LoRA-GA) into a plain LoRA
 * adapter for the ORIGINAL base weights (PEFT's `subtract_mutated_init`). Training kept
 * W_res = W − s·B₀·A₀ frozen and moved the factors to A, B, so the model computes
 * W_res + s·B·A = W + s·(B·A − B₀·A₀), which is exactly rank 2r:
 *
 *   A′ = [A; A₀] (rows),  B′ = [B, −B₀] (columns),  B′·A′ = B·A − B₀·A₀,
 *
 * with the scaling kept by {@link convertedConfig}. Embedding factors are concatenated the same way.
 * Other tensors (modules_to_save copies, biases, DoRA magnitudes) are carried over unchanged — they are
 * not relative to the residual, so they stay valid; PEFT 0.21 drops them, which leaves an adapter that
 * does not load.
 *
 * @param initial the adapter as initialized (A₀, B₀), saved before training
 * @param trained the adapter after training (A, B) and its config
 */
export function convertToLora(initial: AdapterWeights, trained: AdapterWeights): ConvertedAdapter {
  const warnings: string[] = [];
  const init = String(trained.config.initLoraWeights).toLowerCase();
  if (!CONVERTIBLE_PREFIXES.some((prefix) => init.startsWith(prefix))) {
    warnings.push(
      '`path_initial_model_for_weight_conversion` only works for converting a PiSSA/CorDA/OLoRA/LoRA-GA adapter to a LoRA adapter',
    );
  }
  const config = convertedConfig(trained.config);
  const missing: string[] = [];
  const mismatched: string[] = [];
  const tensors = new Map<string, Tensor>();
  noGrad(() => {
    for (const [key, value] of trained.tensors) {
      const factor = FACTORS.find((f) => key.endsWith(f.suffix));
      if (!factor) {
        tensors.set(key, value);
        continue;
      }
      const start = initial.tensors.get(key);
      if (!start) {
        missing.push(key);
        continue;
      }
      if (start.shape.length !== value.shape.length || start.shape.some((d, i) => d !== value.shape[i])) {
        mismatched.push(`${key}: initial [${start.shape.join(', ')}] vs trained [${value.shape.join(', ')}]`);
        continue;
      }
      tensors.set(key, cat([value, factor.negate ? start.neg() : start], factor.dim).contiguous());
    }
  });
  if (missing.length || mismatched.length) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing in the initial adapter: ${missing.join(', ')}`);
    if (mismatched.length) parts.push(`shape mismatches: ${mismatched.join(', ')}`);
    throw new ConversionError(
      `[convertToLora] the initial adapter does not match the trained one (${parts.join('; ')}); pass the adapter saved right after initialization, before training`,
    );
  }
  return { config, tensors, warnings };
}
