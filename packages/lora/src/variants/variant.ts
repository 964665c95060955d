import type { Tensor } from '@lorakit/tensor';
import type { LoraConfig } from '../config/lora-config.js';
import { RegistryError } from '../errors.js';
import type { LoraLayer, LoraLayerKind } from '../layers/lora-layer.js';

/**
 * A LoRA variant changes how one adapter of one layer computes its output and merges (PEFT's
 * `LoraVariant`; DoRA is the built-in one). The layer calls these instead of the vanilla path.
 */
export interface LoraVariant {
  readonly name: string;
  /** Runs after the adapter's factors were initialized (DoRA: the magnitude vector). */
  initialize?(layer: LoraLayer, adapter: string): void;
  /** Adds this adapter's contribution to `result` (the running output) for input `x`. */
  forward(layer: LoraLayer, adapter: string, x: Tensor, result: Tensor): Tensor;
  /**
   * The whole layer output when this adapter is the only active one on a plain linear layer with no
   * dropout at work, given `fused(bias)` = `x·Wᵀ + bias + s·(x·Aᵀ)·Bᵀ` (the fused LoRA linear, x read
   * once). Without it such layers take {@link LoraVariant.forward}.
   */
  fusedForward?(layer: LoraLayer, adapter: string, x: Tensor, fused: (bias: Tensor | null) => Tensor): Tensor;
  /**
   * The merged base weight for `weight` (the current one). `pristine()` gives the base weight with every
   * earlier merge of this layer undone.
   */
  mergeWeight(layer: LoraLayer, adapter: string, weight: Tensor, pristine: () => Tensor): Tensor;
  /** Undoes `mergeWeight` on `weight`. `forget` drops merge caches (a real unmerge, not a preview). */
  unmergeWeight(layer: LoraLayer, adapter: string, weight: Tensor, forget: boolean): Tensor;
}

/** A registered variant: which configs turn it on, and its implementation per layer kind. */
export interface VariantRegistration {
  readonly name: string;
  /** Whether this variant is active for an adapter config (DoRA: `use_dora`). */
  readonly enabled: (config: LoraConfig) => boolean;
  readonly layers: Partial<Record<LoraLayerKind, LoraVariant>>;
}

const registry = new Map<string, VariantRegistration>();

export function registerLoraVariant(registration: VariantRegistration): void {
  if (registry.has(registration.name)) {
    throw new RegistryError(
      `[registerLoraVariant] a variant named "${registration.name}" is already registered; registered: ${[...registry.keys()].join(', ')}`,
    );
  }
  registry.set(registration.name, registration);
}

export function registeredVariants(): string[] {
  return [...registry.keys()];
}

/** The variant an adapter config selects for a layer kind, or undefined for vanilla LoRA. */
export function resolveVariant(config: LoraConfig, kind: LoraLayerKind): LoraVariant | undefined {
  const active = [...registry.values()].filter((r) => r.enabled(config));
  if (active.length === 0) return undefined;
  if (active.length > 1) {
    throw new RegistryError(
      `[lora] Invalid or unsupported variant combination: (${active.map((r) => `'${r.name}'`).join(', ')})`,
    );
  }
  const variant = active[0]!.layers[kind];
  if (!variant) {
    throw new RegistryError(`[lora] the ${active[0]!.name} variant does not support ${kind} layers`);
  }
  return variant;
}
