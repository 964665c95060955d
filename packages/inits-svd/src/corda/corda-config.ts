import { LoraConfigError, type SubConfig } from '@lorakit/lora';

/** Which r singular directions of W·C CorDA gives the adapter. */
export type CordaMethod = 'ipm' | 'kpm';

/**
 * PEFT's `CordaConfig` (camelCase here; `corda_config` in `adapter_config.json` uses the snake_case keys
 * of {@link CORDA_CONFIG_KEYS}).
 */
export interface CordaOptions {
  /**
   * A safetensors file with the cropped eigens (`<module>.eigens.S_WC` / `U_WC` / `V_WC`) of every target.
   * When it exists and is non-empty, preprocessing only reads it (no calibration run); otherwise it is
   * written after preprocessing. Rank-specific.
   */
  readonly cacheFile: string | null;
  /**
   * A safetensors file with each target's averaged input covariance (`<module>` → [in, in]). Read when it
   * exists and is non-empty (no calibration run), written after collection otherwise. Reusable for
   * other ranks.
   */
  readonly covarianceFile: string | null;
  /**
   * `'ipm'` (instruction-previewed: the adapter takes the r largest components, for fast convergence)
   * or `'kpm'` (knowledge-preserved: the r smallest, keeping the dominant world-knowledge directions in
   * the frozen base).
   */
  readonly cordaMethod: CordaMethod | null;
  /** Print progress while computing eigens (one line per layer to stderr). */
  readonly verbose: boolean;
  /** Keep each layer's input in the model dtype instead of float32 when accumulating covariances. */
  readonly useFloat16ForCovariance: boolean;
  /**
   * Drop the per-layer covariances, sample counts, methods and ranks once the eigens are computed;
   * with `false` `preprocessCorda` returns them.
   */
  readonly pruneTemporaryFields: boolean;
}

/** camelCase option → PEFT's `corda_config` key. */
export const CORDA_CONFIG_KEYS = {
  cacheFile: 'cache_file',
  covarianceFile: 'covariance_file',
  cordaMethod: 'corda_method',
  verbose: 'verbose',
  useFloat16ForCovariance: 'use_float16_for_covariance',
  pruneTemporaryFields: 'prune_temporary_fields',
} as const satisfies Record<keyof CordaOptions, string>;

/** PEFT's defaults. */
export const CORDA_DEFAULTS: CordaOptions = {
  cacheFile: null,
  covarianceFile: null,
  cordaMethod: 'ipm',
  verbose: false,
  useFloat16ForCovariance: false,
  pruneTemporaryFields: true,
};

/**
 * The `cordaConfig` value for a `LoraConfig`: PEFT's `CordaConfig` dict with every key, in PEFT's
 * order, defaults filled in.
 *
 * @example
 * ```ts
 * new LoraConfig({ r: 16, initLoraWeights: 'corda', targetModules: ['q_proj', 'v_proj'],
 *   cordaConfig: cordaConfig({ cordaMethod: 'kpm', covarianceFile: './cov.safetensors' }) });
 * ```
 */
export function cordaConfig(options: Partial<CordaOptions> = {}): SubConfig {
  const merged = { ...CORDA_DEFAULTS, ...options };
  const dict: SubConfig = {};
  for (const [field, key] of Object.entries(CORDA_CONFIG_KEYS))
    dict[key] = merged[field as keyof CordaOptions];
  readCordaConfig(dict);
  return dict;
}

/**
 * Reads and validates a `corda_config` dict (snake_case keys, as in `adapter_config.json`); `null`
 * gives the defaults. Unknown keys are an error that lists the valid ones.
 */
export function readCordaConfig(dict: SubConfig | null | undefined): CordaOptions {
  if (dict === null || dict === undefined) return CORDA_DEFAULTS;
  const byKey = new Map<string, keyof CordaOptions>(
    Object.entries(CORDA_CONFIG_KEYS).map(([field, key]) => [key, field as keyof CordaOptions]),
  );
  const options: Record<string, unknown> = { ...CORDA_DEFAULTS };
  for (const [key, value] of Object.entries(dict)) {
    const field = byKey.get(key);
    if (!field) {
      throw new LoraConfigError(
        `[CordaConfig] unknown key "${key}"; corda_config keys are ${[...byKey.keys()].join(', ')} (build it with cordaConfig({ … }) from camelCase options)`,
      );
    }
    options[field] = value;
  }
  for (const field of ['cacheFile', 'covarianceFile'] as const) {
    const value = options[field];
    if (value !== null && (typeof value !== 'string' || value === '')) {
      throw new LoraConfigError(
        `[CordaConfig] ${CORDA_CONFIG_KEYS[field]} must be a file path or null, received ${JSON.stringify(value)}`,
      );
    }
  }
  for (const field of ['verbose', 'useFloat16ForCovariance', 'pruneTemporaryFields'] as const) {
    if (typeof options[field] !== 'boolean') {
      throw new LoraConfigError(
        `[CordaConfig] ${CORDA_CONFIG_KEYS[field]} must be true or false, received ${JSON.stringify(options[field])}`,
      );
    }
  }
  const method = options.cordaMethod;
  if (method !== null && method !== 'ipm' && method !== 'kpm') {
    throw new LoraConfigError(
      `[CordaConfig] Invalid corda_method found: ${JSON.stringify(method)}, it should be 'ipm' or 'kpm'.`,
    );
  }
  return options as unknown as CordaOptions;
}
