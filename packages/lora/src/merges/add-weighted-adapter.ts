import { noGrad } from '@lorakit/tensor';
import { LoraConfig } from '../config/lora-config.js';
import { AdapterError, listNames } from '../errors.js';
import type { PeftModel } from '../model/peft-model.js';
import { getMergeStrategy, type MergeSource, type WeightedMergeOptions } from './merge-registry.js';

/** An adapter's rank for merge purposes: r, or the largest rank_pattern value (PEFT). */
function adapterRank(config: LoraConfig): number {
  const pattern = Object.values(config.rankPattern);
  return pattern.length ? Math.max(config.r, ...pattern) : config.r;
}

/**
 * The config of the adapter `add_weighted_adapter` builds from adapters `names` with `configs`, by the
 * rules of PEFT's `_check_add_weighted_adapter`: r = lora_alpha = the merged rank (all ranks equal for
 * the non-SVD family, their sum for `cat`, `svdRank` or the largest for the SVD family); target modules
 * the union of list targets or the alternation `(t1)|(t2)|…` of regex targets; otherwise a copy of the
 * first adapter's config without rank/alpha patterns, without an init (the factors are computed, not
 * initialized) and with `use_rslora` off (see {@link addWeightedAdapter}). Used by
 * `@lorakit/merge-strategies`' file-level merges, so both paths write the same config.
 *
 * @throws AdapterError when ranks differ for an equal-rank type, or targets mix regex strings and lists.
 */
export function weightedAdapterConfig(
  combinationType: string,
  names: readonly string[],
  configs: readonly LoraConfig[],
  svdRank?: number,
): LoraConfig {
  const strategy = getMergeStrategy(combinationType);
  const ranks = configs.map(adapterRank);
  let rank: number;
  if (strategy.rank === 'equal') {
    if (new Set(ranks).size > 1) {
      throw new AdapterError(
        `[addWeightedAdapter] All adapters must have the same r value when using combination_type ${combinationType}; ranks: ${names.map((a, i) => `${a}=${ranks[i]}`).join(', ')}`,
      );
    }
    rank = ranks[0]!;
  } else if (strategy.rank === 'sum') rank = ranks.reduce((x, y) => x + y, 0);
  else rank = svdRank ?? Math.max(...ranks);

  const targets = configs.map((c) => c.targetModules);
  let merged: string | string[];
  if (targets.every((t) => typeof t === 'string')) merged = targets.map((t) => `(${t})`).join('|');
  else if (targets.every((t) => t instanceof Set))
    merged = [...new Set(targets.flatMap((t) => [...(t as Set<string>)]))];
  else
    throw new AdapterError(
      '[addWeightedAdapter] Invalid type for target_modules: adapters mix regex strings and lists',
    );

  return new LoraConfig({
    ...configs[0]!.toOptions(),
    r: rank,
    loraAlpha: rank,
    targetModules: merged,
    rankPattern: {},
    alphaPattern: {},
    useRslora: false,
    initLoraWeights: false,
    loftqConfig: {},
    evaConfig: null,
    cordaConfig: null,
  });
}

/**
 * PEFT's `add_weighted_adapter`: builds adapter `name` from `adapters` weighted by `weights` with the
 * registered combination type. Preconditions and messages follow PEFT 0.21. Deviations, on purpose: the
 * merged adapter is created with zero factors (no init runs, so base-mutating inits never touch the base
 * weight again) and with `use_rslora: false`, so its scaling is exactly 1 (PEFT 0.21 inherits rsLoRA and
 * over-scales by √r; upstream fixed this after 0.21).
 */
export function addWeightedAdapter(
  peft: PeftModel,
  adapters: readonly string[],
  weights: readonly number[],
  name: string,
  combinationType = 'svd',
  options: WeightedMergeOptions = {},
): LoraConfig | undefined {
  if (peft.peftConfig.has(name)) return undefined;
  const missing = adapters.filter((a) => !peft.peftConfig.has(a));
  if (missing.length) {
    throw new AdapterError(
      `[addWeightedAdapter] Adapter ${missing[0]} does not exist; adapters: ${listNames([...peft.peftConfig.keys()])}`,
    );
  }
  if (adapters.length === 0) throw new AdapterError('[addWeightedAdapter] needs at least one adapter');
  const withTokens = adapters.filter((a) => peft.peftConfig.get(a)!.trainableTokenIndices !== null);
  if (withTokens.length) {
    // The new adapter would start from the original rows: the trained tokens would be lost silently.
    throw new AdapterError(
      `[addWeightedAdapter] adapter ${withTokens.join(', ')} has trainable tokens (trainable_token_indices), which a weighted combination cannot carry over; combine adapters without them`,
    );
  }
  for (const [path, wrapper] of peft.wrappers()) {
    const users = adapters.filter((a) => wrapper.adapters.has(a));
    if (users.length > 1) {
      throw new AdapterError(
        `[addWeightedAdapter] Cannot add weighted adapters targeting the same module with modules_to_save (${path} is saved by ${users.join(', ')})`,
      );
    }
  }
  const type = adapters.length === 1 ? 'linear' : combinationType;
  const strategy = getMergeStrategy(type);
  const config = weightedAdapterConfig(
    type,
    adapters,
    adapters.map((a) => peft.peftConfig.get(a)!),
    options.svdRank ?? undefined,
  );
  peft.addAdapter(name, config, { initWeights: false });
  noGrad(() => {
    for (const [path, layer] of peft.loraLayers()) {
      if (!layer.hasAdapter(name)) continue;
      const sources: MergeSource[] = [];
      adapters.forEach((adapter, i) => {
        if (!layer.hasAdapter(adapter) || i >= weights.length) return;
        const { a, b } = layer.factorParameters(adapter);
        sources.push({
          adapter,
          weight: weights[i]!,
          scaling: layer.scaling.get(adapter)!,
          r: layer.r.get(adapter)!,
          a,
          b,
          delta: () => layer.deltaWeight(adapter),
        });
      });
      const target = layer.factorParameters(name);
      target.a.assign(0);
      target.b.assign(0);
      if (sources.length === 0) continue;
      const { a, b } = strategy.combine({
        layer,
        kind: layer.kind,
        modulePath: path,
        sources,
        rank: layer.r.get(name)!,
        fanInFanOut: (layer as { fanInFanOut?: boolean }).fanInFanOut ?? false,
        options,
      });
      const rows = a.shape[0]!;
      target.a.narrow(0, 0, rows).assign(a);
      target.b.narrow(1, 0, b.shape[1]!).assign(b);
    }
  });
  return peft.peftConfig.get(name);
}
