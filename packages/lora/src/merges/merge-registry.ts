import type { Generator, Tensor } from '@lorakit/tensor';
import { RegistryError } from '../errors.js';
import type { LoraLayer, LoraLayerKind } from '../layers/lora-layer.js';

/** One source adapter of a weighted merge, in one layer. */
export interface MergeSource {
  readonly adapter: string;
  /** The user's weight for this adapter. */
  readonly weight: number;
  readonly scaling: number;
  readonly r: number;
  /** lora_A (linear: [r, in]; conv: [r, Cin, …k]; embedding: [r, vocab]). */
  readonly a: Tensor;
  /** lora_B (linear: [out, r]; conv: [Cout, r, 1…]; embedding: [dim, r]). */
  readonly b: Tensor;
  /** s·ΔW in the base weight's layout (what merging would add to it). */
  delta(): Tensor;
}

/** Options of `addWeightedAdapter` (PEFT's keyword arguments, camelCase). */
export interface WeightedMergeOptions {
  readonly svdRank?: number;
  /** Quantile in [0, 1] to clamp the SVD factors at. */
  readonly svdClamp?: number;
  readonly svdFullMatrices?: boolean;
  /** CUDA-only in PyTorch; accepted and ignored here. */
  readonly svdDriver?: string;
  readonly density?: number;
  readonly majoritySignMethod?: 'total' | 'frequency';
  /** Seed for the random strategies (DARE); the default generator when omitted. */
  readonly generator?: Generator;
}

export interface MergeLayerContext {
  readonly layer: LoraLayer;
  readonly kind: LoraLayerKind;
  readonly modulePath: string;
  readonly sources: readonly MergeSource[];
  /** Rank of the merged adapter. */
  readonly rank: number;
  readonly fanInFanOut: boolean;
  readonly options: WeightedMergeOptions;
}

/**
 * A combination type of `add_weighted_adapter`. `rank` says how the merged rank follows from the
 * sources' ranks: 'equal' (all equal; keep it), 'sum' (cat), 'svd' (svd_rank, else the largest).
 * `combine` returns the merged factors for one layer (shaped like the sources', rank ≤ `rank`); the
 * merged adapter's scaling is 1.
 */
export interface MergeStrategy {
  readonly name: string;
  readonly rank: 'equal' | 'sum' | 'svd';
  combine(context: MergeLayerContext): { a: Tensor; b: Tensor };
}

const registry = new Map<string, MergeStrategy>();

export function registerMergeStrategy(strategy: MergeStrategy): void {
  if (registry.has(strategy.name)) {
    throw new RegistryError(
      `[registerMergeStrategy] a merge strategy named "${strategy.name}" is already registered; registered: ${[...registry.keys()].join(', ')}`,
    );
  }
  registry.set(strategy.name, strategy);
}

export function registeredMergeStrategies(): string[] {
  return [...registry.keys()];
}

export function getMergeStrategy(name: string): MergeStrategy {
  const strategy = registry.get(name);
  if (!strategy) {
    throw new RegistryError(
      `[addWeightedAdapter] Invalid combination_type: ${name}; registered combination types: ${registeredMergeStrategies().join(', ') || '(none — install @lorakit/merge-strategies)'}`,
    );
  }
  return strategy;
}
