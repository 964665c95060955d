import { AdapterError, LoraConfig, type MergeStrategy } from '@lorakit/lora';

/** An adapter's rank for merge purposes: r, or the largest rank_pattern value (PEFT). */
export function adapterRank(config: LoraConfig): number {
  const pattern = Object.values(config.rankPattern);
  return pattern.length ? Math.max(config.r, ...pattern) : config.r;
}

/**
 * The merged adapter's rank (PEFT's `_check_add_weighted_adapter`): all equal for the non-SVD family,
 * the sum for `cat`, `svdRank` or the largest for the SVD family. Same rules and messages as
 * @lorakit/lora's addWeightedAdapter.
 */
export function mergedRank(
  strategy: MergeStrategy,
  names: readonly string[],
  configs: readonly LoraConfig[],
  svdRank: number | undefined,
): number {
  const ranks = configs.map(adapterRank);
  if (strategy.rank === 'equal') {
    if (new Set(ranks).size > 1) {
      throw new AdapterError(
        `[addWeightedAdapter] All adapters must have the same r value when using combination_type ${strategy.name}; ranks: ${names.map((a, i) => `${a}=${ranks[i]}`).join(', ')}`,
      );
    }
    return ranks[0]!;
  }
  if (strategy.rank === 'sum') return ranks.reduce((x, y) => x + y, 0);
  return svdRank ?? Math.max(...ranks);
}

/** Union of list targets, or the alternation `(t1)|(t2)|…` of regex targets; mixing is an error. */
export function mergedTargetModules(configs: readonly LoraConfig[]): string | string[] {
  const targets = configs.map((c) => c.targetModules);
  if (targets.every((t) => typeof t === 'string')) return targets.map((t) => `(${t})`).join('|');
  if (targets.every((t) => t instanceof Set))
    return [...new Set(targets.flatMap((t) => [...(t as Set<string>)]))];
  throw new AdapterError(
    '[addWeightedAdapter] Invalid type for target_modules: adapters mix regex strings and lists',
  );
}

/**
 * The merged adapter's config as @lorakit/lora's addWeightedAdapter builds it: a copy of the first
 * adapter's with r = lora_alpha = the merged rank, the merged targets and no rank/alpha patterns;
 * `use_rslora` off (so the scaling is exactly 1; PEFT 0.21 inherits it and over-scales by √r) and no
 * init (PEFT re-runs the first adapter's init).
 */
export function mergedAdapterConfig(
  configs: readonly LoraConfig[],
  rank: number,
  targetModules: string | string[],
): LoraConfig {
  return new LoraConfig({
    ...configs[0]!.toOptions(),
    r: rank,
    loraAlpha: rank,
    targetModules,
    rankPattern: {},
    alphaPattern: {},
    useRslora: false,
    initLoraWeights: false,
    loftqConfig: {},
    evaConfig: null,
    cordaConfig: null,
  });
}
