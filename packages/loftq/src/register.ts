import { registeredInitStrategies, registerInitStrategy, registerLayerDispatcher } from '@lorakit/lora';
import { QuantizedLinear } from './layers/quantized-linear.js';
import { loftqStrategy } from './loftq-strategy.js';
import { LoraQuantizedLinear } from './lora/lora-quantized-linear.js';

let registered = false;

/**
 * Registers the `loftq` init strategy and the LoRA dispatcher for quantized linears with @lorakit/lora.
 * Runs when the package is imported; idempotent.
 */
export function registerLoftq(): void {
  if (registered) return;
  registered = true;
  if (!registeredInitStrategies().includes(loftqStrategy.name)) registerInitStrategy(loftqStrategy);
  registerLayerDispatcher({
    name: 'loftq-quantized-linear',
    linear: true,
    matches: (module) => module instanceof QuantizedLinear,
    create: (module, _config, warn) => new LoraQuantizedLinear(module as QuantizedLinear, warn),
  });
}
