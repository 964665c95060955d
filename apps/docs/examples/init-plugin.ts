import { type InitContext, registerInitStrategy } from '@lorakit/lora';
import { randn } from '@lorakit/tensor';

/**
 * An init plugin: `init_lora_weights: 'scaled-normal'` starts A ~ N(0, 0.01²) and B = 0, so the model's
 * output is unchanged at step 0, like the default init. A plugin package calls this once on import.
 */
export function registerScaledNormal(): void {
  registerInitStrategy({
    name: 'scaled-normal',
    kinds: ['linear', 'conv'], // embeddings fall back to the default init, as PEFT does for unknown inits
    initialize(context: InitContext) {
      context.loraA.assign(randn(context.loraA.shape, { std: 0.01, generator: context.generator }));
      context.loraB.assign(0);
    },
  });
}
