import type { InitContext, InitStrategy, SubConfig } from '@lorakit/lora';
import type { Tensor } from '@lorakit/tensor';
import { LoftqError } from './errors.js';
import { QuantizedLinear } from './layers/quantized-linear.js';
import { type LoftqQuantizer, type LoftqSvd, loftqInit } from './loftq-init.js';
import { openCheckpoint, readWeightSync } from './model/original-weights.js';

/** PEFT's `LoftQConfig` (the `loftq_config` of an adapter config, snake_case as in the JSON). */
export interface LoftqConfig {
  /** 4 (NF4) or 8 (int8); default 4. */
  readonly loftq_bits: number;
  /** Alternating steps; default 1. */
  readonly loftq_iter: number;
}

/** Validates a `loftq_config` with PEFT's defaults (4 bits, 1 iteration). */
export function parseLoftqConfig(config: SubConfig | undefined): LoftqConfig {
  const raw = (config ?? {}) as Record<string, unknown>;
  const bits = raw.loftq_bits ?? 4;
  const iterations = raw.loftq_iter ?? 1;
  if (bits !== 4 && bits !== 8) {
    throw new LoftqError(
      `[loftq] Only nf4 and int8 quantization is supported: loftq_bits must be 4 or 8, received ${JSON.stringify(bits)}`,
    );
  }
  if (typeof iterations !== 'number' || !Number.isInteger(iterations) || iterations <= 0) {
    throw new LoftqError(
      `[loftq] Number of iterations must be greater than 0: loftq_iter must be a positive integer, received ${JSON.stringify(iterations)}`,
    );
  }
  return { loftq_bits: bits, loftq_iter: iterations };
}

/** Process-wide settings of the `loftq` init strategy (the PEFT config has no place for them). */
export interface LoftqSettings {
  /** Default 'bitsandbytes' (PEFT 0.21). Ignored on quantized layers, which use their own format. */
  quantizer: LoftqQuantizer;
  /** Default 'full' (exact, as PEFT). */
  svd: LoftqSvd;
}

const settings: LoftqSettings = { quantizer: 'bitsandbytes', svd: 'full' };

/** Changes how the `loftq` init strategy quantizes and factorizes; returns the previous settings. */
export function configureLoftq(changes: Partial<LoftqSettings>): LoftqSettings {
  const previous = { ...settings };
  Object.assign(settings, changes);
  return previous;
}

/** The float weight of a quantized layer, re-read from the checkpoint it was quantized from. */
function originalWeight(context: InitContext, base: QuantizedLinear): Tensor {
  if (!base.originalWeight) {
    throw new LoftqError(
      `[loftq] ${context.modulePath} is already quantized (${base.constructor.name}) and its unquantized weight is unknown. Apply LoftQ to the float model before quantizing it, load the model with loadQuantizedModel (which records its checkpoint), or call replaceLoraWeightsLoftq(peftModel, checkpointPath).`,
    );
  }
  const source = openCheckpoint(base.originalWeight.path);
  try {
    const weight = readWeightSync(source, base.originalWeight.name, base.originalWeight.basePrefix);
    return base.sourceLayout === 'conv1d' ? weight.T.contiguous() : weight;
  } finally {
    source.close();
  }
}

/**
 * `init_lora_weights="loftq"`: LoftQ on every targeted linear layer ({@link loftqInit}), PEFT's
 * `LoraLayer.loftq_init`. On a float layer the base weight becomes the dequantized weight Q (PEFT's
 * fake-quantized base); on a quantized layer LoftQ alternates with the layer's own format, starting from
 * the unquantized weight of its checkpoint, and the layer stores the requantized Q (an exact round trip).
 * GPT-2 Conv1D weights are factorized in Linear layout (PEFT would build factors of the wrong shape).
 */
export const loftqStrategy: InitStrategy = {
  name: 'loftq',
  kinds: ['linear'],
  modifiesBaseWeight: true,
  initialize(context) {
    const config = parseLoftqConfig(context.config.loftqConfig);
    const base = context.layer.baseLayer;
    let weight: Tensor;
    let fakeQuantize: ((values: Float32Array) => Float32Array) | undefined;
    if (base instanceof QuantizedLinear) {
      if (base.bits !== config.loftq_bits) {
        throw new LoftqError(
          `[loftq] loftq_bits=${config.loftq_bits} does not match the ${base.bits}-bit base layer ${context.modulePath}`,
        );
      }
      weight = originalWeight(context, base);
      fakeQuantize = (values) => base.fakeQuantize(values);
    } else {
      weight = context.fanInFanOut ? context.baseWeight().T : context.baseWeight();
    }
    const result = loftqInit(weight, {
      bits: config.loftq_bits,
      rank: context.r,
      iterations: config.loftq_iter,
      quantizer: settings.quantizer,
      svd: settings.svd,
      fakeQuantize,
    });
    context.loraA.assign(result.loraA);
    context.loraB.assign(result.loraB);
    context.setBaseWeight(context.fanInFanOut ? result.dequantized.T.contiguous() : result.dequantized);
  },
};
