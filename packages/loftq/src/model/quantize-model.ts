import { type AnyModule, Conv1D, Linear, type Parameter } from '@lorakit/nn';
import { noGrad } from '@lorakit/tensor';
import { QuantizationError } from '../errors.js';
import { Linear4bit } from '../layers/linear-4bit.js';
import { Linear8bitLt } from '../layers/linear-8bit.js';
import { QuantizedLinear } from '../layers/quantized-linear.js';

export interface QuantizeModelOptions {
  /** 4 (NF4, bitsandbytes `load_in_4bit` with `nf4`) or 8 (int8, `load_in_8bit`). */
  readonly bits: 4 | 8;
  /**
   * Modules left in float (transformers' `llm_int8_skip_modules`): a name matches a module whose dotted
   * path equals it, ends with `.name`, or contains it as whole path segments. Default: the model's output
   * embedding (`lm_head`) when it declares one, else `['lm_head']`.
   */
  readonly skipModules?: readonly string[];
  /** NF4 block size (default 64). */
  readonly blocksize?: number;
}

export interface QuantizeModelResult {
  /** Dotted paths of the modules that were replaced, in model order. */
  readonly quantized: string[];
}

function outputEmbeddingPath(model: AnyModule): string | undefined {
  const m = model as unknown as { getOutputEmbeddings?: () => string | null };
  return m.getOutputEmbeddings?.() ?? undefined;
}

function skipped(path: string, skipModules: readonly string[]): boolean {
  return skipModules.some((key) => `.${path}.`.includes(`.${key}.`));
}

/**
 * Replaces every `Linear` (and GPT-2 `Conv1D`) of `model` by a {@link Linear4bit} or
 * {@link Linear8bitLt} holding its quantized weight, in place, like transformers' bitsandbytes
 * integration. Biases stay float32. The float weights are released (disposed unless another module still
 * shares them), so memory drops to ≈ 0.56 (4-bit) or ≈ 1 (8-bit) byte per linear weight.
 *
 * @example
 * ```ts
 * const model = await loadModel('./llama');
 * quantizeModel(model, { bits: 4 });          // lm_head stays float
 * const peft = getPeftModel(model, new LoraConfig({ r: 16, targetModules: ['q_proj', 'v_proj'] }));
 * ```
 */
export function quantizeModel<M extends AnyModule>(
  model: M,
  options: QuantizeModelOptions,
): QuantizeModelResult {
  if (options.bits !== 4 && options.bits !== 8) {
    throw new QuantizationError(`[quantizeModel] bits must be 4 or 8, received ${String(options.bits)}`);
  }
  const output = outputEmbeddingPath(model);
  const skipModules = options.skipModules ?? [output ?? 'lm_head'];
  const quantized: string[] = [];
  const released: Parameter[] = [];
  noGrad(() => {
    for (const [path, module] of model.namedModules()) {
      if (path === '' || skipped(path, skipModules)) continue;
      if (!(module instanceof Linear || module instanceof Conv1D)) continue;
      const replacement =
        options.bits === 4
          ? Linear4bit.fromLinear(module, { blocksize: options.blocksize })
          : Linear8bitLt.fromLinear(module);
      replacement.training = module.training;
      model.setSubmodule(path, replacement);
      released.push(module.weight);
      quantized.push(path);
    }
  });
  const stillUsed = new Set(model.parameters());
  for (const weight of released) if (!stillUsed.has(weight)) weight.dispose();
  return { quantized };
}

export interface LoadQuantizedModelOptions<M extends AnyModule> {
  /** '4bit' (NF4) or '8bit' (int8). */
  readonly quantize: '4bit' | '8bit';
  /**
   * Loads the float model from the folder, e.g. `loadModel` of `@lorakit/models`, or
   * `(dir) => loadModel(dir, { dtype: 'bfloat16' })` with options. loftq loads no model itself, so it
   * works with any model family and depends on no model package.
   */
  readonly load: (dir: string) => M | Promise<M>;
  readonly skipModules?: readonly string[];
  readonly blocksize?: number;
}

/**
 * Loads a model with the caller's loader and quantizes it with {@link quantizeModel} (transformers'
 * `from_pretrained(…, quantization_config=…)`). Each quantized layer remembers the checkpoint, so LoftQ
 * can re-read its unquantized weight later. The float model exists in memory until the layers are
 * quantized (one pass, right after loading).
 *
 * @example
 * ```ts
 * import { loadModel } from '@lorakit/models';
 * const model = await loadQuantizedModel('./llama', { quantize: '4bit', load: loadModel });
 * ```
 */
export async function loadQuantizedModel<M extends AnyModule>(
  dir: string,
  options: LoadQuantizedModelOptions<M>,
): Promise<M> {
  const { quantize, load, skipModules, blocksize } = options;
  if (quantize !== '4bit' && quantize !== '8bit') {
    throw new QuantizationError(
      `[loadQuantizedModel] quantize must be '4bit' or '8bit', received ${JSON.stringify(quantize)}`,
    );
  }
  if (typeof load !== 'function') {
    throw new QuantizationError(
      `[loadQuantizedModel] load must be a function that loads the float model from a folder (e.g. loadModel of @lorakit/models), received ${load === undefined ? 'undefined' : typeof load}`,
    );
  }
  const model = await load(dir);
  quantizeModel(model, { bits: quantize === '4bit' ? 4 : 8, skipModules, blocksize });
  // Where the model's own weights sit in the checkpoint (transformers' base_model_prefix), when it says.
  const prefix = (model as { basePrefix?: unknown }).basePrefix;
  const basePrefix = typeof prefix === 'string' && prefix !== '' ? prefix : undefined;
  for (const [path, module] of model.namedModules()) {
    if (module instanceof QuantizedLinear) {
      module.originalWeight = { path: dir, name: `${path}.weight`, basePrefix };
    }
  }
  return model;
}

/**
 * The dotted paths PEFT's `target_modules="all-linear"` selects on a (possibly quantized) model: every
 * `Linear`, GPT-2 `Conv1D` and quantized linear except the output embedding (LM head). `targetModules:
 * 'all-linear'` selects the same modules (the quantized-linear dispatcher is registered as linear); this
 * list is for callers that want the names up front.
 */
export function allLinearTargets(model: AnyModule): string[] {
  const output = outputEmbeddingPath(model);
  return model
    .namedModules()
    .filter(
      ([path, m]) =>
        path !== '' &&
        path !== output &&
        (m instanceof Linear || m instanceof Conv1D || m instanceof QuantizedLinear),
    )
    .map(([path]) => path);
}

/** The quantized linear layers of a model, with their paths. */
export function quantizedLayers(model: AnyModule): [string, QuantizedLinear][] {
  return model.namedModules().filter(([, m]) => m instanceof QuantizedLinear) as [string, QuantizedLinear][];
}
