import { type AnyModule, Dropout, Identity, Module, ModuleDict, Parameter } from '@lorakit/nn';
import { type Generator, isFloating, noGrad, type Tensor, tensor, where } from '@lorakit/tensor';
import type { LoraConfig } from '../config/lora-config.js';
import { AdapterError, MergeError } from '../errors.js';
import { initializeAdapter } from '../inits/init-registry.js';
import type { LoraVariant } from '../variants/variant.js';
import { resolveVariant } from '../variants/variant.js';
import { BASE_ADAPTER, currentAdapterNames } from './adapter-context.js';
import { readBaseWeight, writeBaseWeight } from './base-weight.js';

export type LoraLayerKind = 'linear' | 'embedding' | 'conv';

/** What `updateLayer` needs to add one adapter. */
export interface AdapterSpec {
  readonly name: string;
  readonly r: number;
  readonly alpha: number;
  readonly config: LoraConfig;
  /** Dotted path of the layer in the model (for init strategies and messages). */
  readonly modulePath: string;
  /** Skip initialization (weights are about to be loaded). */
  readonly initWeights?: boolean;
  /** Where init strategies report PEFT's warnings. */
  readonly warn?: (message: string) => void;
  /** Random numbers for the init strategy (default: the default generator). */
  readonly generator?: Generator;
}

/** A module holding one parameter per adapter (PEFT's ParameterDict for embeddings). */
export class ParameterDict extends Module<[], never> {
  forward(): never {
    throw new AdapterError('[ParameterDict] has no forward');
  }
}

/** DoRA's magnitude vector container (`lora_magnitude_vector.<adapter>.weight`). */
export class MagnitudeVector extends Module<[], never> {
  forward(): never {
    throw new AdapterError('[lora_magnitude_vector] has no forward');
  }
}

/**
 * The shared part of every LoRA layer: the wrapped `base_layer`, per-adapter hyper-parameters, the
 * active/merged/disabled state, and merge/unmerge. Subclasses build the factors and compute the delta
 * weight and forward for their layer kind. Children are named as in PEFT (`base_layer`, `lora_A`,
 * `lora_B`, `lora_dropout`, `lora_embedding_A/B`, `lora_magnitude_vector`), so parameter paths match
 * PEFT's state dicts.
 */
export abstract class LoraLayer extends Module {
  abstract readonly kind: LoraLayerKind;
  readonly r = new Map<string, number>();
  readonly loraAlpha = new Map<string, number>();
  readonly scaling = new Map<string, number>();
  readonly loraBias = new Map<string, boolean>();
  readonly variants = new Map<string, LoraVariant>();
  readonly mergedAdapters: string[] = [];
  /** DoRA merge caches the weight norm per adapter for exact unmerge. */
  readonly mergeCache = new Map<string, Tensor>();
  activeAdapters: string[] = [];
  disabled = false;

  constructor(baseLayer: AnyModule) {
    super();
    this.registerModule('base_layer', baseLayer);
    this.registerModule('lora_dropout', new ModuleDict());
  }

  get baseLayer(): AnyModule {
    return this.child('base_layer');
  }

  get merged(): boolean {
    return this.mergedAdapters.length > 0;
  }

  /** Adapters this layer holds, in insertion order. */
  abstract adapterNames(): string[];

  /** Adds (or re-creates) one adapter's factors and initializes them. */
  abstract updateLayer(spec: AdapterSpec): void;

  /** scaling · ΔW for one adapter, in the base weight's own layout. */
  abstract deltaWeight(adapter: string): Tensor;

  /** This adapter's vanilla LoRA contribution to the output for input `x` (scaling included). */
  abstract loraTerm(adapter: string, x: Tensor): Tensor;

  /** The adapter's A and B factors (and lora_B's bias) in PEFT's layouts. */
  abstract factorParameters(adapter: string): { a: Parameter; b: Parameter; bBias: Parameter | null };

  /** Names of the child containers keyed by adapter (ModuleDicts or ParameterDicts). */
  protected abstract readonly adapterContainers: readonly string[];

  /**
   * The common part of `updateLayer`: records r/alpha/scaling, builds dropout, lets `createFactors` make
   * the factor modules, resolves the variant (DoRA), runs the init strategy, then the variant's init.
   */
  protected addAdapter(spec: AdapterSpec, createFactors: () => void): void {
    this.recordAdapter(spec);
    this.setDropout(spec.name, spec.config.loraDropout);
    createFactors();
    const variant = resolveVariant(spec.config, this.kind);
    if (variant) this.variants.set(spec.name, variant);
    else this.variants.delete(spec.name);
    initializeAdapter(this, spec);
    variant?.initialize?.(this, spec.name);
  }

  /** Removes an adapter's tensors from every container. */
  protected removeAdapterTensors(adapter: string): void {
    for (const name of this.adapterContainers) {
      const container = this.child(name);
      if (container.hasChild(adapter)) container.removeChild(adapter);
      if (container.ownParameters().some(([n]) => n === adapter)) container.removeParameter(adapter);
    }
  }

  /** Every LoRA parameter of one adapter (for trainability switches). */
  adapterParameters(adapter: string): Parameter[] {
    const out: Parameter[] = [];
    for (const name of this.adapterContainers) {
      const container = this.child(name);
      if (container.hasChild(adapter)) out.push(...container.child(adapter).parameters());
      const own = container.ownParameters().find(([n]) => n === adapter)?.[1];
      if (own) out.push(own);
    }
    return out;
  }

  /**
   * PEFT's layer forward: base output plus each active adapter's term (or its variant's), in order; the
   * base alone when disabled (unmerging first) or merged; per-row adapters in a mixed batch.
   */
  forward(x: Tensor): Tensor {
    const base = this.baseLayer;
    if (this.disabled) {
      if (this.merged) this.unmerge();
      return base.call(x);
    }
    const rowAdapters = currentAdapterNames();
    if (rowAdapters) return this.mixedBatchForward(x, rowAdapters);
    if (this.merged) return base.call(x);
    let result: Tensor = base.call(x);
    const outDtype = result.dtype;
    let input = x;
    for (const adapter of this.activeAdapters) {
      if (!this.hasAdapter(adapter)) continue;
      // PEFT: x is cast to the adapter's dtype (and stays so for the next adapter); the sum is cast back.
      input = this.castInput(input, adapter);
      const variant = this.variants.get(adapter);
      result = variant
        ? variant.forward(this, adapter, input, result)
        : result.add(this.loraTerm(adapter, input));
    }
    return result.dtype === outDtype ? result : result.cast(outDtype);
  }

  /**
   * The input cast to the dtype the adapter computes in (PEFT's `_cast_input_dtype`: lora_A's weight
   * dtype for linear and conv layers). Embeddings take integer ids and keep them.
   */
  protected castInput(x: Tensor, adapter: string): Tensor {
    const dtype = this.factorParameters(adapter).a.dtype;
    return x.dtype === dtype || !isFloating(x.dtype) ? x : x.cast(dtype);
  }

  /**
   * PEFT's dtypes for a new adapter on a float16/bfloat16 base layer: after init its tensors are rounded
   * to the base weight's dtype, then, with `autocast` (PEFT's `autocast_adapter_dtype=True`, the
   * default), kept in float32, so a bfloat16 model trains float32 factors whose initial values are
   * bfloat16 numbers. A base layer of another dtype (float32, or a quantized one without a float
   * `weight`) leaves the adapter as it is.
   */
  castAdapterDtype(adapter: string, autocast: boolean): void {
    const baseDtype = this.baseLayer.ownParameters().find(([name]) => name === 'weight')?.[1]?.dtype;
    if (baseDtype !== 'float16' && baseDtype !== 'bfloat16') return;
    const own = new Set(this.adapterParameters(adapter));
    noGrad(() => {
      for (const [path, parameter] of this.namedParameters()) {
        if (!own.has(parameter) || !isFloating(parameter.dtype)) continue;
        const rounded = parameter.detach().cast(baseDtype);
        const value = autocast && rounded.dtype !== 'float32' ? rounded.cast('float32') : rounded;
        if (value !== rounded) rounded.dispose();
        this.setParameter(path, new Parameter(value, parameter.requiresGrad));
        parameter.dispose();
      }
    });
  }

  /** PEFT's `_mixed_batch_forward`: each row gets the adapter named for it, or none (`__base__`). */
  protected mixedBatchForward(x: Tensor, rowAdapters: readonly string[]): Tensor {
    if (x.shape[0] !== rowAdapters.length) {
      throw new AdapterError(
        `[lora] Length of \`adapter_names\` should be the same as the number of inputs, but got ${rowAdapters.length} and ${x.shape[0]} respectively.`,
      );
    }
    if (this.merged) {
      throw new AdapterError(
        '[lora] Cannot pass `adapter_names` when there are merged adapters, please call `unmerge_adapter` first.',
      );
    }
    if ([...new Set(rowAdapters)].some((a) => this.variants.get(a)?.name === 'dora')) {
      throw new AdapterError('[lora] Cannot pass `adapter_names` when DoRA is enabled.');
    }
    let result: Tensor = this.baseLayer.call(x);
    for (const adapter of new Set(rowAdapters)) {
      if (adapter === BASE_ADAPTER || !this.hasAdapter(adapter)) continue;
      // Rows of this adapter get its term; a mask keeps the op differentiable and backend-agnostic.
      const mask = tensor(
        rowAdapters.map((a) => a === adapter),
        {
          backend: x.backend.name,
          shape: [rowAdapters.length, ...new Array<number>(result.rank - 1).fill(1)],
        },
      );
      // PEFT: the rows' input is cast to the adapter's dtype and the term back to the result's.
      const term = this.loraTerm(adapter, this.castInput(x, adapter));
      result = where(mask, result.add(term.dtype === result.dtype ? term : term.cast(result.dtype)), result);
    }
    return result;
  }

  hasAdapter(adapter: string): boolean {
    return this.adapterNames().includes(adapter);
  }

  protected setDropout(adapter: string, p: number): void {
    this.child<ModuleDict>('lora_dropout').set(adapter, p > 0 ? new Dropout(p) : new Identity());
  }

  protected dropout(adapter: string): AnyModule {
    return this.child<ModuleDict>('lora_dropout').get(adapter);
  }

  protected recordAdapter(spec: AdapterSpec): void {
    if (!Number.isInteger(spec.r) || spec.r <= 0) {
      throw new AdapterError(
        `[lora] \`r\` should be a positive integer value but the value passed is ${spec.r}`,
      );
    }
    this.r.set(spec.name, spec.r);
    this.loraAlpha.set(spec.name, spec.alpha);
    this.scaling.set(spec.name, spec.config.scalingFor(spec.r, spec.alpha));
    this.loraBias.set(spec.name, spec.config.loraBias);
  }

  /** Makes `names` the active adapters and sets their trainability (PEFT's `set_adapter`). */
  setAdapter(names: readonly string[], inferenceMode = false): void {
    for (const adapter of this.adapterNames()) {
      const trainable = names.includes(adapter) && !inferenceMode;
      for (const p of this.adapterParameters(adapter)) p.requiresGrad = trainable;
    }
    this.activeAdapters = [...names];
  }

  /** Turns all adapters of this layer off (base output only) or back on. */
  enableAdapters(enabled: boolean): void {
    if (enabled) {
      this.setAdapter(this.activeAdapters, false);
      this.disabled = false;
    } else {
      for (const adapter of this.adapterNames())
        for (const p of this.adapterParameters(adapter)) p.requiresGrad = false;
      this.disabled = true;
    }
  }

  deleteAdapter(adapter: string): void {
    this.removeAdapterTensors(adapter);
    this.child<ModuleDict>('lora_dropout').delete(adapter);
    for (const map of [this.r, this.loraAlpha, this.scaling, this.loraBias, this.variants])
      map.delete(adapter);
    if (this.activeAdapters.includes(adapter)) {
      const remaining = this.activeAdapters.filter((a) => a !== adapter);
      if (remaining.length > 0) this.activeAdapters = remaining;
      else {
        const first = this.adapterNames().sort()[0];
        this.activeAdapters = first ? [first] : [];
      }
    }
  }

  /** Base weight as float32 in the base layer's layout. */
  baseWeight(): Tensor {
    return readBaseWeight(this.baseLayer);
  }

  setBaseWeight(weight: Tensor): void {
    writeBaseWeight(this.baseLayer, weight);
  }

  /** Merges adapters into the base weight (PEFT's `merge`). Already-merged ones are skipped. */
  merge(options: { safeMerge?: boolean; adapterNames?: readonly string[] } = {}): void {
    const names = (options.adapterNames ?? this.activeAdapters).filter(
      (a) => !this.mergedAdapters.includes(a),
    );
    noGrad(() => {
      for (const adapter of names) {
        if (!this.hasAdapter(adapter)) continue;
        this.checkMergeable(adapter);
        const weight = this.baseWeight();
        const variant = this.variants.get(adapter);
        const merged = variant
          ? variant.mergeWeight(this, adapter, weight, () => this.pristineWeight())
          : weight.add(this.deltaWeight(adapter).cast(weight.dtype));
        const bias = this.mergedBias(adapter, 1);
        if (options.safeMerge) {
          // PEFT 0.21: every check happens before any write, so a failure leaves the layer untouched.
          assertFinite(merged, adapter);
          if (bias) assertFinite(bias, adapter);
        }
        this.setBaseWeight(merged);
        if (bias) this.baseLayer.param('bias')!.assign(bias);
        this.mergedAdapters.push(adapter);
      }
    });
  }

  /** Undoes merges, last merged first (PEFT's `unmerge`). */
  unmerge(): void {
    noGrad(() => {
      while (this.mergedAdapters.length > 0) {
        const adapter = this.mergedAdapters.pop()!;
        if (!this.hasAdapter(adapter)) continue;
        this.setBaseWeight(this.unmergeWeight(adapter, this.baseWeight(), true));
        const bias = this.mergedBias(adapter, -1);
        if (bias) this.baseLayer.param('bias')!.assign(bias);
      }
    });
  }

  /** The base weight with the merge of `adapter` undone (`forget` drops variant caches). */
  protected unmergeWeight(adapter: string, weight: Tensor, forget: boolean): Tensor {
    const variant = this.variants.get(adapter);
    return variant
      ? variant.unmergeWeight(this, adapter, weight, forget)
      : weight.sub(this.deltaWeight(adapter).cast(weight.dtype));
  }

  /** The base weight as it was before any adapter was merged into this layer. */
  pristineWeight(): Tensor {
    let weight = this.baseWeight();
    for (const adapter of [...this.mergedAdapters].reverse()) {
      if (this.hasAdapter(adapter)) weight = this.unmergeWeight(adapter, weight, false);
    }
    return weight;
  }

  /** Extra checks before a merge (conv groups); overridden by subclasses. */
  protected checkMergeable(_adapter: string): void {}

  /** base bias ± s·b_B when the adapter has a lora_B bias, else undefined. */
  protected mergedBias(adapter: string, sign: 1 | -1): Tensor | undefined {
    if (!this.loraBias.get(adapter)) return undefined;
    const loraBias = this.loraBBias(adapter);
    if (!loraBias) return undefined;
    const base = this.baseLayer.param('bias');
    if (!base)
      throw new MergeError(
        '[lora] Impossible to merge LoRA with `lora_bias=True` because the base layer has no bias.',
      );
    return base.add(loraBias.mul(sign * this.scaling.get(adapter)!));
  }

  /** The lora_B bias of an adapter, if any. */
  protected loraBBias(_adapter: string): Parameter | null {
    return null;
  }
}

function assertFinite(t: Tensor, adapter: string): void {
  if (t.isnan().logicalOr(t.isinf()).any().item()) {
    throw new MergeError(
      `[lora] NaNs detected in the merged weights. The adapter ${adapter} seems to be broken`,
    );
  }
}
