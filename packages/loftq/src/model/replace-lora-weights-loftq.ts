import { LoraLayer, type PeftModel } from '@lorakit/lora';
import { noGrad } from '@lorakit/tensor';
import { LoftqError } from '../errors.js';
import { QuantizedLinear } from '../layers/quantized-linear.js';
import { type LoftqSvd, lowRankFactors } from '../loftq-init.js';
import { openCheckpoint, readWeight } from './original-weights.js';

/** PEFT's prefix of the user's model inside a PeftModel. */
const PREFIX = 'base_model.model.';

export interface ReplaceLoraWeightsLoftqOptions {
  /** Adapter whose A/B are replaced (default 'default'). */
  readonly adapterName?: string;
  /**
   * Called after each module's replacement with the PEFT model and the module name (without the
   * `base_model.model.` prefix); returning false rolls that module back to its previous A/B.
   */
  readonly callback?: (peftModel: PeftModel, moduleName: string) => boolean | Promise<boolean>;
  /** Exact SVD (default, as PEFT) or a randomized one for large layers. */
  readonly svd?: LoftqSvd;
}

export interface ReplaceLoraWeightsLoftqResult {
  /** Modules whose A/B were replaced (and kept). */
  readonly replaced: string[];
  /** Modules the callback rolled back. */
  readonly rejected: string[];
}

/**
 * PEFT's `replace_lora_weights_loftq`: one-shot LoftQ for a model whose base is already quantized. For each
 * LoRA layer over a quantized linear, the unquantized weight W is read from the checkpoint (one tensor at
 * a time, a positioned read of its bytes), Q is the layer's current dequantized weight, and A/B become the
 * best rank-r fit of W − Q (A = √Σᵣ·Vᵣᵀ, B = Uᵣ·√Σᵣ; the LoRA scaling is ignored, as in PEFT). The base
 * weight is not changed. With a callback, a replacement it rejects is rolled back (a greedy search;
 * calling again can improve further). PEFT supports 4-bit bases only; 8-bit ones are handled the same way.
 *
 * @param safetensorsPath the unquantized checkpoint: a folder (`model.safetensors` or a shard index), a
 *   `.safetensors` file or an index; default: the folder `loadQuantizedModel` loaded the model from.
 */
export async function replaceLoraWeightsLoftq(
  peftModel: PeftModel,
  safetensorsPath?: string,
  options: ReplaceLoraWeightsLoftqOptions = {},
): Promise<ReplaceLoraWeightsLoftqResult> {
  const adapterName = options.adapterName ?? 'default';
  const targets = peftModel
    .namedModules()
    .filter(([, m]) => m instanceof LoraLayer && m.baseLayer instanceof QuantizedLinear) as [
    string,
    LoraLayer,
  ][];
  if (targets.length === 0) {
    throw new LoftqError(
      '[replaceLoraWeightsLoftq] No quantized LoRA module found on the model (quantize the base with quantizeModel or loadQuantizedModel before getPeftModel)',
    );
  }
  const path =
    safetensorsPath ??
    targets.map(([, layer]) => (layer.baseLayer as QuantizedLinear).originalWeight?.path).find((p) => p);
  if (path === undefined) {
    throw new LoftqError(
      '[replaceLoraWeightsLoftq] The model was not loaded with loadQuantizedModel; pass the path of the unquantized safetensors checkpoint.',
    );
  }
  const basePrefix = (peftModel.model as unknown as { basePrefix?: string }).basePrefix || undefined;
  const source = openCheckpoint(path);
  const replaced: string[] = [];
  const rejected: string[] = [];
  try {
    for (const [fullName, layer] of targets) {
      if (!fullName.startsWith(PREFIX)) {
        throw new LoftqError(
          '[replaceLoraWeightsLoftq] The passed model does not appear to be a valid PeftModel',
        );
      }
      const name = fullName.slice(PREFIX.length);
      if (!layer.hasAdapter(adapterName)) {
        throw new LoftqError(
          `[replaceLoraWeightsLoftq] ${name} has no adapter "${adapterName}"; its adapters: ${layer.adapterNames().join(', ')}`,
        );
      }
      const base = layer.baseLayer as QuantizedLinear;
      let weight = await readWeight(source, `${name}.weight`, basePrefix);
      if (base.sourceLayout === 'conv1d') weight = weight.T.contiguous();
      const { a, b } = noGrad(() =>
        lowRankFactors(weight.sub(base.dequantize()), layer.r.get(adapterName)!, options.svd),
      );
      const factors = layer.factorParameters(adapterName);
      const previous = options.callback
        ? { a: factors.a.detach().clone(), b: factors.b.detach().clone() }
        : undefined;
      factors.a.assign(a);
      factors.b.assign(b);
      if (previous && !(await options.callback!(peftModel, name))) {
        factors.a.assign(previous.a);
        factors.b.assign(previous.b);
        rejected.push(name);
      } else replaced.push(name);
    }
  } finally {
    source.close();
  }
  return { replaced, rejected };
}
