import {
  LoraConfig,
  type LoraConfigOptions,
  LoraLayer,
  PeftModel,
  resolvePattern,
  resolveTargets,
} from '@lorakit/lora';
import { type AnyModule, Conv1D, type HookHandle, Linear } from '@lorakit/nn';
import { noGradAsync, type Tensor, tidy } from '@lorakit/tensor';
import { CyclingLoader, type EvaDataloader } from './dataloader.js';
import { EvaError } from './errors.js';
import { readEvaConfig } from './eva-config.js';
import { hashLayerInputs, type LayerInputs, SvdHook } from './layer-hooks.js';
import {
  type ForwardFn,
  forwardFnDict,
  type PrepareLayerInputsFn,
  type PrepareModelInputsFn,
  prepareLayerInputsFnDefault,
  prepareLayerInputsFnLanguageModeling,
  prepareModelInputsFnLanguageModeling,
} from './prepare-inputs.js';
import { distributeRanks, roundHalfEven } from './rank-distribution.js';

/** EVA components by module name: [rank, in_features] per layer (rank 0: the layer gets no adapter). */
export type EvaStateDict = Map<string, Tensor>;

/** Where the computation stands, after each batch (the CLI draws a bar from it). */
export interface EvaProgress {
  /** Batches forwarded in the SVD loop so far. */
  readonly step: number;
  /** Target layers whose assigned components have converged (layers sharing an input count each). */
  readonly convergedLayers: number;
  readonly totalLayers: number;
}

export interface EvaStateDictOptions {
  /** Required when `model` is not a PeftModel: r, rank_pattern, target_modules and eva_config come from it. */
  readonly peftConfig?: LoraConfig | LoraConfigOptions;
  /** Runs the model on a batch (default: `model.call(batch)`); may be async. */
  readonly forwardFn?: ForwardFn;
  /** Default: the language-modeling one (attention and label masks); `null`: pass the batch on as it is. */
  readonly prepareModelInputsFn?: PrepareModelInputsFn | null;
  /**
   * Default: the language-modeling one (rows at the kept token positions); `null`: every position.
   * A map from module name to function sets it per layer; layers it does not name use every position.
   */
  readonly prepareLayerInputsFn?:
    | PrepareLayerInputsFn
    | Readonly<Record<string, PrepareLayerInputsFn>>
    | ReadonlyMap<string, PrepareLayerInputsFn>
    | null;
  readonly adapterName?: string;
  /**
   * PEFT gathers layer inputs across torch.distributed ranks. lorakit has no distributed runtime, so
   * only `false` (the default) is accepted; gather inside `prepareLayerInputsFn` if you shard data.
   */
  readonly gatherDistributedInputs?: boolean;
  /** Write PEFT's progress line ("3/10 layers have converged") to stderr. Default false. */
  readonly showProgressBar?: boolean;
  readonly onProgress?: (progress: EvaProgress) => void;
  /** Messages PEFT prints (a batch skipped for having too few rows). Default: stderr. */
  readonly log?: (message: string) => void;
  /** Stops the loop (it runs until every layer has converged, cycling through the data as PEFT does). */
  readonly signal?: AbortSignal;
  /**
   * With the default forward function, end each batch's forward pass as soon as every layer still
   * fitting has received its input: the rest of the model (later layers, the head, the loss) computes
   * nothing EVA reads, so the components are the same. Applies when the model runs synchronously and
   * each of those layers ran exactly once on the first batch (otherwise the whole forward runs, as in
   * PEFT). Forward hooks of modules that would have run later do not fire. Default true.
   */
  readonly stopForwardEarly?: boolean;
}

/** Thrown by the last fitting layer's hook to end a forward pass early (see `stopForwardEarly`). */
const STOP_FORWARD = new Error('[getEvaStateDict] forward pass ended after the last fitting layer');

function isStopForward(error: unknown): boolean {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 8; depth++) {
    if (cause === STOP_FORWARD) return true;
    cause = cause.cause;
  }
  return false;
}

const PREFIX = 'base_model.model.';

function names(list: readonly string[], limit = 20): string {
  if (list.length <= limit) return list.join(', ');
  return `${list.slice(0, limit).join(', ')}, … (${list.length - limit} more)`;
}

/** The layers EVA computes components for, in model order. */
function evaTargets(model: AnyModule, config: LoraConfig, adapterName: string): [string, AnyModule][] {
  if (model instanceof PeftModel) {
    // PEFT: every LoRA layer except Embedding, MultiheadAttention and conv (UNSUPPORTED_LORA_MODULES).
    return model
      .namedModules()
      .filter(([, m]) => m instanceof LoraLayer && m.kind === 'linear' && m.hasAdapter(adapterName));
  }
  const { targets } = resolveTargets(model, config.clone());
  return targets.filter(([, m]) => m instanceof Linear || m instanceof Conv1D);
}

function layerPrepareFunctions(
  option: EvaStateDictOptions['prepareLayerInputsFn'],
  targets: readonly string[],
): (name: string) => PrepareLayerInputsFn {
  if (option === undefined) return () => prepareLayerInputsFnLanguageModeling;
  if (option === null) return () => prepareLayerInputsFnDefault;
  if (typeof option === 'function') return () => option;
  const byName = new Map(option instanceof Map ? option : Object.entries(option));
  const unknown = [...byName.keys()].filter((name) => !targets.includes(name));
  if (unknown.length) {
    throw new EvaError(
      `[getEvaStateDict] prepareLayerInputsFn is a mapping but the following module names were not found in the model: ${unknown.join(', ')}; target layers: ${names(targets)}`,
    );
  }
  return (name) => byName.get(name) ?? prepareLayerInputsFnDefault;
}

/**
 * Computes EVA's components for every target layer (PEFT's `get_eva_state_dict`; Paischer et al. 2024,
 * "One Initialization to Rule them All: Fine-tuning via Explained Variance Adaptation").
 *
 * The model runs on the calibration batches with forward hooks on the target layers, in eval mode, with
 * adapters disabled (a PeftModel) — the inputs are the base model's. Layers whose inputs are equal on
 * the first batch share one incremental PCA. Each layer fits at most round(r·rho) components, batch by
 * batch, until the components its current rank allocation needs are stable (cosine similarity with the
 * previous batch ≥ tau); after each batch the rank budget Σr is re-allocated by explained variance.
 * The data are cycled until every layer has converged.
 *
 * Keys are the module names of `model` (with PEFT's `base_model.model.` prefix for a PeftModel); the
 * tensors are float64 [rank, in_features], whitened when `eva_config.whiten` is set.
 */
export async function getEvaStateDict(
  model: AnyModule,
  dataloader: EvaDataloader,
  options: EvaStateDictOptions = {},
): Promise<EvaStateDict> {
  const adapterName = options.adapterName ?? 'default';
  let config: LoraConfig;
  if (options.peftConfig) {
    config =
      options.peftConfig instanceof LoraConfig ? options.peftConfig : new LoraConfig(options.peftConfig);
  } else if (model instanceof PeftModel) {
    const own = model.peftConfig.get(adapterName);
    if (!own) {
      throw new EvaError(
        `[getEvaStateDict] the model has no adapter named "${adapterName}"; adapters: ${[...model.peftConfig.keys()].join(', ')}`,
      );
    }
    config = own;
  } else {
    throw new EvaError('[getEvaStateDict] peftConfig is required if model is not a PeftModel');
  }
  if (options.gatherDistributedInputs) {
    throw new EvaError(
      '[getEvaStateDict] gatherDistributedInputs: true is not supported: lorakit has no distributed runtime (gather the inputs of all workers inside prepareLayerInputsFn instead)',
    );
  }
  const eva = readEvaConfig(config.evaConfig);
  const targets = evaTargets(model, config, adapterName);
  if (targets.length === 0) {
    throw new EvaError(
      model instanceof PeftModel
        ? `[getEvaStateDict] the model has no linear LoRA layer with adapter "${adapterName}" (EVA supports Linear and Conv1D layers)`
        : '[getEvaStateDict] target_modules matched no nn.Linear or Conv1D module of the model',
    );
  }
  const targetNames = targets.map(([name]) => name);
  const prepareFor = layerPrepareFunctions(options.prepareLayerInputsFn, targetNames);
  const prepareModelInputs =
    options.prepareModelInputsFn === undefined
      ? prepareModelInputsFnLanguageModeling
      : options.prepareModelInputsFn;
  const forward = options.forwardFn ?? forwardFnDict;
  const log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));

  let rho = eva.rho;
  if (rho > 1000) {
    // An "unlimited" rho: cap it where no layer could take more components anyway.
    const maxDim = Math.max(...model.parameters().map((p) => Math.max(...p.shape)));
    rho = Math.min(rho, Math.floor(maxDim / config.r));
  }
  const maxComponents = new Map<string, number>();
  let budget = 0;
  for (const name of targetNames) {
    const rank = resolvePattern(config.rankPattern, name, config.r);
    maxComponents.set(name, roundHalfEven(rank * rho));
    budget += rank;
  }

  const loader = new CyclingLoader(dataloader);
  const training = model.training;
  const peft = model instanceof PeftModel ? model : null;
  const adaptersWereDisabled = peft?.adaptersDisabled ?? true;
  const handles: HookHandle[] = [];
  const svdHooks = new Map<string, SvdHook>();
  model.eval();
  if (peft && !adaptersWereDisabled) peft.enableAdapters(false);
  try {
    return await noGradAsync(async () => {
      const first = await loader.next();
      if (first === undefined) throw new EvaError('[getEvaStateDict] dataloader is empty');
      const modelInputs = (batch: unknown) =>
        prepareModelInputs === null ? batch : prepareModelInputs(batch, config);

      // 1. Which layers see equal inputs: one hashed forward pass on the first batch.
      const layers: LayerInputs[] = targets.map(([name, module]) => ({
        name,
        module,
        prepare: prepareFor(name),
        modelInput: modelInputs(first),
      }));
      const hashing = hashLayerInputs(layers);
      handles.push(...hashing.handles);
      /**
       * The default forward of a module that runs synchronously (every lorakit model) goes inside
       * `tidy` in the loop: its activations and outputs are disposed after each batch, so a backend
       * that recycles memory reuses them instead of leaving them to the garbage collector. A custom
       * forwardFn may keep what it creates and is left alone.
       */
      let tidyForward = false;
      try {
        const output = forward(model, first);
        tidyForward = options.forwardFn === undefined && !isThenable(output);
        await output;
      } finally {
        for (const handle of hashing.handles) handle.remove();
      }
      const silent = targetNames.filter((name) => !hashing.digests.has(name));
      if (silent.length) {
        throw new EvaError(
          `[getEvaStateDict] ${silent.length === 1 ? 'layer' : 'layers'} ${names(silent)} received no input in the forward pass of the first batch (does forwardFn run them?)`,
        );
      }
      const groups = new Map<string, string[]>();
      for (const name of targetNames) {
        const digest = hashing.digests.get(name)!;
        groups.set(digest, [...(groups.get(digest) ?? []), name]);
      }
      /** Layers mapped onto the representative (first in model order) of their equal-input group. */
      const sharing = new Map<string, string>();
      for (const group of groups.values()) {
        const largest = Math.max(...group.map((name) => maxComponents.get(name)!));
        for (const name of group) maxComponents.set(name, largest);
        for (const name of group.slice(1)) sharing.set(name, group[0]!);
      }

      // 2. One incremental PCA per representative.
      const representatives = layers.filter((layer) => !sharing.has(layer.name));
      for (const layer of representatives) {
        const hook = new SvdHook(layer, maxComponents.get(layer.name)!, eva.tau, log);
        hook.register();
        svdHooks.set(layer.name, hook);
      }
      // Each forward can stop after the last hook still fitting when every fitting layer runs once.
      const stopEarly =
        tidyForward &&
        (options.stopForwardEarly ?? true) &&
        representatives.every((layer) => hashing.calls.get(layer.name) === 1);
      /** Hooks that have not run yet in the current forward pass. */
      const pending = new Set<SvdHook>();
      if (stopEarly) {
        for (const hook of svdHooks.values()) {
          hook.afterStep = () => {
            if (pending.delete(hook) && pending.size === 0) throw STOP_FORWARD;
          };
        }
      }
      const layerMap: [string, string][] = [
        ...representatives.map((layer) => [layer.name, layer.name] as [string, string]),
        ...sharing,
      ];

      // 3. Cycle through the data until every representative's allocated components are stable.
      const converged = new Map<string, boolean>(representatives.map((layer) => [layer.name, false]));
      let rankDistribution = new Map(maxComponents);
      let step = 0;
      let batch: unknown = first;
      for (;;) {
        if (options.signal?.aborted) {
          throw new EvaError('[getEvaStateDict] aborted', { cause: options.signal.reason });
        }
        const inputs = modelInputs(batch);
        for (const [name, hook] of svdHooks) {
          const done = hook.converged.slice(0, rankDistribution.get(name)!).every(Boolean);
          if (!converged.get(name) && done && hook.handle) {
            hook.remove();
            converged.set(name, true);
            continue;
          }
          if (converged.get(name) && !done) {
            // The allocation grew past the components that had converged: fit again.
            hook.register();
            converged.set(name, false);
          }
          hook.layer.modelInput = inputs;
        }
        const convergedLayers = layerMap.filter(([, representative]) => converged.get(representative)).length;
        options.onProgress?.({ step, convergedLayers, totalLayers: layerMap.length });
        if (options.showProgressBar) {
          process.stderr.write(`\r${convergedLayers}/${layerMap.length} layers have converged`);
        }
        if ([...converged.values()].every(Boolean)) break;

        if (tidyForward) {
          pending.clear();
          if (stopEarly) for (const hook of svdHooks.values()) if (hook.handle) pending.add(hook);
          // The stop is caught inside tidy, so the pass's tensors are still disposed.
          tidy(() => {
            try {
              forward(model, batch);
            } catch (error) {
              if (!isStopForward(error)) throw error;
            }
          });
        } else {
          await forward(model, batch);
        }
        step++;
        const unfitted = [...svdHooks.values()].filter((hook) => !hook.pca.fitted);
        if (unfitted.length === 0) {
          rankDistribution = distributeRanks(
            layerMap,
            new Map(
              [...svdHooks].map(([name, hook]) => [
                name,
                Array.from(hook.pca.explainedVarianceRatio!.toArray() as Float64Array),
              ]),
            ),
            maxComponents,
            budget,
          );
        }
        const next = await loader.next();
        if (loader.lap > 0 && unfitted.length > 0) throw notEnoughRows(unfitted, loader.size);
        batch = next;
      }
      if (options.showProgressBar) process.stderr.write('\n');

      // 4. Every layer's share of its representative's components.
      const stateDict: EvaStateDict = new Map();
      for (const [name, rank] of rankDistribution) {
        const hook = svdHooks.get(sharing.get(name) ?? name)!;
        if (!hook.converged.slice(0, rank).every(Boolean)) {
          throw new EvaError(
            `[getEvaStateDict] Layer ${name} has not converged but was assigned rank ${rank}. Please report this issue at https://github.com/huggingface/peft/issues`,
          );
        }
        let components = hook.pca.components!.narrow(0, 0, rank).contiguous();
        if (eva.whiten) {
          // A new tensor per layer: PEFT divides a shared view in place, whitening the rows of layers
          // that share an input once per layer in the group.
          components = components.div(hook.pca.singularValues!.narrow(0, 0, rank).sqrt().unsqueeze(1));
        }
        stateDict.set(name, components.double());
      }
      return stateDict;
    });
  } finally {
    for (const handle of handles) handle.remove();
    for (const hook of svdHooks.values()) hook.remove();
    await loader.close();
    if (peft && !adaptersWereDisabled) peft.enableAdapters(true);
    model.train(training);
  }
}

function isThenable(value: unknown): boolean {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function notEnoughRows(unfitted: readonly SvdHook[], batches: number): EvaError {
  const list = unfitted.map((hook) => `${hook.layer.name} (needs ${hook.nComponents})`);
  return new EvaError(
    `[getEvaStateDict] ${unfitted.length === 1 ? 'layer' : 'layers'} ${names(list)} never received enough rows: every one of the ${batches} batches had fewer rows than the layer has components (round(r·rho)) after masking, or the layer did not run. Use larger batches, fewer masked tokens (useLabelMask: false), or a smaller r or rho.`,
  );
}

/** PEFT's prefix of module names inside a PeftModel (`base_model.model.`). */
export const PEFT_MODEL_PREFIX = PREFIX;
