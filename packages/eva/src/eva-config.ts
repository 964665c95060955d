import { LoraConfigError, PyFloat, type SubConfig } from '@lorakit/lora';

/** PEFT's `EvaConfig` (camelCase here; `eva_config` in `adapter_config.json` uses {@link EVA_CONFIG_KEYS}). */
export interface EvaOptions {
  /**
   * How far ranks may move (≥ 1): a layer gets at most round(r·rho) components. 1 keeps every layer at
   * its rank (no redistribution).
   */
  readonly rho: number;
  /** Cosine-similarity threshold in [0, 1] between a layer's components of consecutive batches: converged. */
  readonly tau: number;
  /** Leave out token positions whose label equals `labelMaskValue` (prompt tokens in SFT data). */
  readonly useLabelMask: boolean;
  readonly labelMaskValue: number;
  /** Divide each component by the square root of its singular value. */
  readonly whiten: boolean;
  /** Scale alpha with the new rank (α·r′/r) so α/r, the LoRA scaling, stays what it was. */
  readonly adjustScalingFactors: boolean;
}

/** camelCase option → PEFT's `eva_config` key. */
export const EVA_CONFIG_KEYS = {
  rho: 'rho',
  tau: 'tau',
  useLabelMask: 'use_label_mask',
  labelMaskValue: 'label_mask_value',
  whiten: 'whiten',
  adjustScalingFactors: 'adjust_scaling_factors',
} as const satisfies Record<keyof EvaOptions, string>;

/** PEFT's defaults. */
export const EVA_DEFAULTS: EvaOptions = {
  rho: 2,
  tau: 0.99,
  useLabelMask: true,
  labelMaskValue: -100,
  whiten: false,
  adjustScalingFactors: true,
};

/**
 * The `evaConfig` value for a `LoraConfig`: PEFT's `EvaConfig` dict with every key, defaults filled in,
 * validated. `rho` and `tau` are Python floats in the JSON (`2.0`), as PEFT writes them.
 *
 * @example
 * ```ts
 * new LoraConfig({ r: 16, initLoraWeights: 'eva', targetModules: 'all-linear',
 *   evaConfig: evaConfig({ rho: 2, tau: 0.99 }) });
 * ```
 */
export function evaConfig(options: Partial<EvaOptions> = {}): SubConfig {
  const merged = readEvaConfig(
    Object.fromEntries(
      Object.entries(options).map(([field, value]) => [
        EVA_CONFIG_KEYS[field as keyof EvaOptions] ?? field,
        value,
      ]),
    ),
  );
  const dict: SubConfig = {};
  for (const [field, key] of Object.entries(EVA_CONFIG_KEYS)) {
    const value = merged[field as keyof EvaOptions];
    dict[key] = field === 'rho' || field === 'tau' ? new PyFloat(value as number) : value;
  }
  return dict;
}

function numberOf(value: unknown): unknown {
  return value instanceof PyFloat ? value.value : value;
}

/**
 * Reads and validates an `eva_config` dict (snake_case keys, as in `adapter_config.json`); `null` gives
 * the defaults. PEFT's checks and messages: rho ≥ 1, tau in [0, 1]. Unknown keys are an error that lists
 * the valid ones (PEFT drops them silently; a misspelt key would otherwise fall back to a default).
 */
export function readEvaConfig(dict: SubConfig | null | undefined): EvaOptions {
  if (dict === null || dict === undefined) return EVA_DEFAULTS;
  const byKey = new Map<string, keyof EvaOptions>(
    Object.entries(EVA_CONFIG_KEYS).map(([field, key]) => [key, field as keyof EvaOptions]),
  );
  const options: Record<string, unknown> = { ...EVA_DEFAULTS };
  for (const [key, value] of Object.entries(dict)) {
    const field = byKey.get(key);
    if (!field) {
      throw new LoraConfigError(
        `[EvaConfig] unknown key "${key}"; eva_config keys are ${[...byKey.keys()].join(', ')} (build it with evaConfig({ … }) from camelCase options)`,
      );
    }
    options[field] = numberOf(value);
  }
  for (const field of ['rho', 'tau'] as const) {
    if (typeof options[field] !== 'number' || Number.isNaN(options[field])) {
      throw new LoraConfigError(
        `[EvaConfig] \`${field}\` must be a number, received ${JSON.stringify(options[field])}`,
      );
    }
  }
  if ((options.rho as number) < 1) {
    throw new LoraConfigError(`[EvaConfig] \`rho\` must be >= 1.0, received ${options.rho}`);
  }
  const tau = options.tau as number;
  if (tau < 0 || tau > 1) {
    throw new LoraConfigError(`[EvaConfig] \`tau\` must be between 0.0 and 1.0, received ${tau}`);
  }
  for (const field of ['useLabelMask', 'whiten', 'adjustScalingFactors'] as const) {
    if (typeof options[field] !== 'boolean') {
      throw new LoraConfigError(
        `[EvaConfig] ${EVA_CONFIG_KEYS[field]} must be true or false, received ${JSON.stringify(options[field])}`,
      );
    }
  }
  if (!Number.isInteger(options.labelMaskValue)) {
    throw new LoraConfigError(
      `[EvaConfig] label_mask_value must be an integer, received ${JSON.stringify(options.labelMaskValue)}`,
    );
  }
  return options as unknown as EvaOptions;
}
