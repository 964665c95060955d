import { type AnyModule, Conv1D, ConvNd, Embedding, Linear } from '@lorakit/nn';
import type { LoraConfig } from '../config/lora-config.js';
import { RegistryError } from '../errors.js';
import { LoraConv } from './lora-conv.js';
import { LoraEmbedding } from './lora-embedding.js';
import type { LoraLayer } from './lora-layer.js';
import { LoraLinear } from './lora-linear.js';

/**
 * Turns a base module into a LoRA layer. Plugins register dispatchers for their own module types
 * (e.g. @lorakit/loftq for 4-bit linears); the most recently registered matching dispatcher wins, so
 * plugins take precedence over the built-ins, as PEFT's custom-module mapping does.
 */
export interface LayerDispatcher {
  readonly name: string;
  matches(module: AnyModule): boolean;
  /** Modules it matches are linear layers: `target_modules: 'all-linear'` selects them (quantized linears). */
  readonly linear?: boolean;
  /** Builds the LoRA layer. May adjust the (per-adapter) config as PEFT does (fan_in_fan_out). */
  create(module: AnyModule, config: LoraConfig, warn: (message: string) => void): LoraLayer;
}

const dispatchers: LayerDispatcher[] = [];

export function registerLayerDispatcher(dispatcher: LayerDispatcher): void {
  if (dispatchers.some((d) => d.name === dispatcher.name)) {
    throw new RegistryError(
      `[registerLayerDispatcher] a dispatcher named "${dispatcher.name}" is already registered; registered: ${dispatchers.map((d) => d.name).join(', ')}`,
    );
  }
  dispatchers.push(dispatcher);
}

export function findDispatcher(module: AnyModule): LayerDispatcher | undefined {
  for (let i = dispatchers.length - 1; i >= 0; i--)
    if (dispatchers[i]!.matches(module)) return dispatchers[i];
  return undefined;
}

/** The module types LoRA supports out of the box, in PEFT's dispatch order. */
export function registerBuiltinDispatchers(): void {
  registerLayerDispatcher({
    name: 'linear',
    linear: true,
    matches: (m) => m instanceof Linear,
    create(module, config, warn) {
      if (config.fanInFanOut) {
        warn(
          'fan_in_fan_out is set to True but the target module is `torch.nn.Linear`. Setting fan_in_fan_out to False.',
        );
        config.fanInFanOut = false;
      }
      return new LoraLinear(module, false);
    },
  });
  registerLayerDispatcher({
    name: 'conv1d-gpt2',
    linear: true,
    matches: (m) => m instanceof Conv1D,
    create(module, config, warn) {
      if (!config.fanInFanOut) {
        warn(
          'fan_in_fan_out is set to False but the target module is `Conv1D`. Setting fan_in_fan_out to True.',
        );
        config.fanInFanOut = true;
      }
      return new LoraLinear(module, true);
    },
  });
  registerLayerDispatcher({
    name: 'conv',
    matches: (m) => m instanceof ConvNd,
    create: (m) => new LoraConv(m as ConvNd),
  });
  registerLayerDispatcher({
    name: 'embedding',
    matches: (m) => m instanceof Embedding,
    create: (m) => new LoraEmbedding(m),
  });
}
