import { existsSync, statSync } from 'node:fs';
import {
  LoraConfig,
  LoraConfigError,
  type LoraConfigOptions,
  NoMatchingModuleError,
  resolvePattern,
} from '@lorakit/lora';
import { type AnyModule, Conv1D } from '@lorakit/nn';
import { noGrad, type Tensor } from '@lorakit/tensor';
import { CordaError } from '../errors.js';
import { readFloatTensors, writeFloatTensors } from '../tensor-files.js';
import { collectCovarianceSums } from './collect-covariance.js';
import { type CordaMethod, type CordaOptions, readCordaConfig } from './corda-config.js';
import { type CordaEigens, cordaDecomposition, cropCordaEigens } from './corda-eigens.js';
import { cordaTargets } from './corda-targets.js';
import { attachCordaEigens } from './eigens-store.js';

export interface PreprocessCordaOptions {
  /**
   * Run the hooks on this model instead of `model` (PEFT's `hooked_model`); covariances are matched to
   * `model`'s targets by module name.
   */
  readonly hookedModel?: AnyModule;
  /** Where `verbose` progress lines go (default: stderr). */
  readonly log?: (line: string) => void;
}

/** The per-layer values PEFT leaves on modules when `prune_temporary_fields` is false. */
export interface CordaTemporaryFields {
  /** The averaged input covariance [in, in]. */
  readonly covariance: Tensor;
  /** Forward calls that contributed (null when the covariances came from `covariance_file`). */
  readonly sampleCount: number | null;
  readonly method: CordaMethod;
  readonly rank: number;
}

export interface CordaPreprocessResult {
  /** The prepared modules, in model order. */
  readonly modules: string[];
  /** Where the eigens came from: the cache file, a covariance file, or a calibration run. */
  readonly source: 'cache_file' | 'covariance_file' | 'run_model';
  /** Covariances, counts, methods and ranks per module, when `prune_temporary_fields` is false. */
  readonly temporaryFields: Map<string, CordaTemporaryFields> | null;
}

const EIGEN_KEYS = { s: 'S_WC', u: 'U_WC', v: 'V_WC' } as const;

function nonEmptyFile(path: string | null): path is string {
  return path !== null && existsSync(path) && statSync(path).size > 0;
}

function readCordaFile(path: string, field: string): Map<string, Tensor> {
  try {
    return readFloatTensors(path);
  } catch (cause) {
    throw new CordaError(
      `[preprocessCorda] cannot read ${field} ${path}: ${(cause as Error).message} (lorakit stores CorDA files as safetensors; PEFT's torch.save files cannot be read)`,
      { cause },
    );
  }
}

function missingEntries(
  path: string,
  field: string,
  missing: string[],
  present: Iterable<string>,
): CordaError {
  return new CordaError(
    `[preprocessCorda] ${field} ${path} has no entry for ${missing.join(', ')}; it holds ${[...present].join(', ') || 'nothing'} (was it built for another model or target_modules?)`,
  );
}

/**
 * CorDA's preprocessing (PEFT's `preprocess_corda`), to run before `getPeftModel` with
 * `init_lora_weights: 'corda'`: for every targeted nn.Linear / Conv1D layer, collect the input
 * covariance over a calibration run, decompose W·C (see `cordaDecomposition`) and keep r components
 * (`corda_method`: `ipm` the largest, `kpm` the smallest; r from `rank_pattern` or `r`). The CorDA init
 * strategy then builds each adapter from them.
 *
 * `runModel` runs the model over the calibration data, **one sequence per forward call** (batch size
 * 1): each call adds XᵀX of the layer's normalized input, and the sum is divided by the number of
 * calls. The hooked model is put in eval mode (as PEFT does). With `corda_config.cache_file` or
 * `covariance_file` pointing at a non-empty file, that file is read instead and `runModel` may be
 * omitted; otherwise the file is written (safetensors, atomically).
 *
 * @example
 * ```ts
 * const config = new LoraConfig({ r: 8, initLoraWeights: 'corda', targetModules: ['q_proj', 'v_proj'],
 *   cordaConfig: cordaConfig({ cordaMethod: 'kpm' }) });
 * await preprocessCorda(model, config, () => {
 *   for (const ids of calibrationRows) model.call({ inputIds: ids.unsqueeze(0) });
 * });
 * const peft = getPeftModel(model, config);
 * ```
 */
export async function preprocessCorda(
  model: AnyModule,
  config: LoraConfig | LoraConfigOptions,
  runModel?: () => void | Promise<void>,
  options: PreprocessCordaOptions = {},
): Promise<CordaPreprocessResult> {
  const loraConfig = config instanceof LoraConfig ? config : new LoraConfig(config);
  const corda = readCordaConfig(loraConfig.cordaConfig);
  const targets = cordaTargets(model, loraConfig);
  if (targets.length === 0) {
    throw new NoMatchingModuleError(
      `[preprocessCorda] target_modules ${describeTargets(loraConfig)} matched no nn.Linear or Conv1D module of the model`,
    );
  }
  const modules = targets.map(([name]) => name);

  if (nonEmptyFile(corda.cacheFile)) {
    const cache = readCordaFile(corda.cacheFile, 'cache_file');
    const missing = modules.filter((name) =>
      Object.values(EIGEN_KEYS).some((key) => !cache.has(`${name}.eigens.${key}`)),
    );
    if (missing.length) throw missingEntries(corda.cacheFile, 'cache_file', missing, cache.keys());
    for (const [name, module] of targets) {
      const get = (key: string) => cache.get(`${name}.eigens.${key}`)!.float();
      attachCordaEigens(module, { s: get(EIGEN_KEYS.s), u: get(EIGEN_KEYS.u), v: get(EIGEN_KEYS.v) });
    }
    return { modules, source: 'cache_file', temporaryFields: null };
  }

  const method = corda.cordaMethod;
  if (method === null) {
    throw new LoraConfigError('[preprocessCorda] corda_method is required when cache_file is not provided.');
  }
  const ranks = new Map(
    modules.map((name) => [name, resolvePattern(loraConfig.rankPattern, name, loraConfig.r)]),
  );
  const { covariances, sampleCounts, source } = await targetCovariances(
    model,
    loraConfig,
    targets,
    corda,
    runModel,
    options.hookedModel,
  );

  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const cache = new Map<string, Tensor>();
  targets.forEach(([name, module], index) => {
    if (corda.verbose) log(`Collecting eigens ${index + 1}/${targets.length}: ${name}`);
    const eigens = noGrad(() => layerEigens(module, covariances.get(name)!, ranks.get(name)!, method));
    attachCordaEigens(module, eigens);
    if (corda.cacheFile !== null) {
      cache.set(`${name}.eigens.${EIGEN_KEYS.s}`, eigens.s);
      cache.set(`${name}.eigens.${EIGEN_KEYS.u}`, eigens.u);
      cache.set(`${name}.eigens.${EIGEN_KEYS.v}`, eigens.v);
    }
  });
  if (corda.cacheFile !== null) await writeFloatTensors(corda.cacheFile, cache, { corda: 'eigens' });

  const temporaryFields = corda.pruneTemporaryFields
    ? null
    : new Map(
        modules.map((name) => [
          name,
          {
            covariance: covariances.get(name)!,
            sampleCount: sampleCounts?.get(name) ?? null,
            method,
            rank: ranks.get(name)!,
          },
        ]),
      );
  return { modules, source, temporaryFields };
}

/** One layer's cropped eigens (W in nn.Linear layout: GPT-2 Conv1D weights are transposed). */
function layerEigens(module: AnyModule, covariance: Tensor, rank: number, method: CordaMethod): CordaEigens {
  const stored = module.param('weight')!.float();
  const weight = module instanceof Conv1D ? stored.T.contiguous() : stored;
  return cropCordaEigens(cordaDecomposition(weight, covariance), rank, method);
}

/** The averaged covariance of every target: from `covariance_file`, or collected by running the model. */
async function targetCovariances(
  model: AnyModule,
  config: LoraConfig,
  targets: readonly [string, AnyModule][],
  corda: CordaOptions,
  runModel: (() => void | Promise<void>) | undefined,
  hookedModel: AnyModule | undefined,
): Promise<{
  covariances: Map<string, Tensor>;
  sampleCounts: Map<string, number> | null;
  source: CordaPreprocessResult['source'];
}> {
  const modules = targets.map(([name]) => name);
  if (nonEmptyFile(corda.covarianceFile)) {
    const stored = readCordaFile(corda.covarianceFile, 'covariance_file');
    const missing = modules.filter((name) => !stored.has(name));
    if (missing.length) throw missingEntries(corda.covarianceFile, 'covariance_file', missing, stored.keys());
    return {
      covariances: new Map(modules.map((name) => [name, stored.get(name)!])),
      sampleCounts: null,
      source: 'covariance_file',
    };
  }
  if (!runModel) {
    throw new CordaError(
      "[preprocessCorda] run_model must be specified when covariance file and cache file aren't built.",
    );
  }
  const hooked = hookedModel ?? model;
  hooked.eval();
  const hookTargets = hookedModel ? cordaTargets(hookedModel, config) : targets;
  const sums = await collectCovarianceSums(hookTargets, runModel, {
    useFloat16: corda.useFloat16ForCovariance,
  });
  const covariances = new Map<string, Tensor>();
  const sampleCounts = new Map<string, number>();
  const silent = modules.filter((name) => !sums.get(name)?.sampleCount);
  if (silent.length) {
    throw new CordaError(
      `[preprocessCorda] no covariance was collected for ${silent.join(', ')}: run_model never ran ${silent.length === 1 ? 'this layer' : 'these layers'}${hookedModel ? ' of hooked_model' : ''} (sample count 0)`,
    );
  }
  for (const name of modules) {
    const { sum, sampleCount } = sums.get(name)!;
    covariances.set(
      name,
      noGrad(() => sum!.div(sampleCount)),
    );
    sampleCounts.set(name, sampleCount);
  }
  if (corda.covarianceFile !== null)
    await writeFloatTensors(corda.covarianceFile, covariances, { corda: 'covariance' });
  return { covariances, sampleCounts, source: 'run_model' };
}

function describeTargets(config: LoraConfig): string {
  const targets = config.targetModules;
  return targets instanceof Set ? JSON.stringify([...targets]) : JSON.stringify(targets);
}
