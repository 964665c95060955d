import { type InitStrategy, registerInitStrategy } from '@lorakit/lora';
import { kaimingUniform } from '@lorakit/tensor';

/**
 * `init_lora_weights: 'eva'` at injection: B = 0 and A left at nn.Linear's default init
 * (U(±1/√in), kaiming-uniform with a = √5), exactly as PEFT leaves a layer until
 * `initializeLoraEvaWeights` writes the components into A. Linear layers only: embeddings fall back to
 * the default init and conv layers are rejected, as in PEFT.
 */
export const evaStrategy: InitStrategy = {
  name: 'eva',
  kinds: ['linear'],
  initialize(context) {
    const fanIn = context.loraA.shape[1]!;
    context.loraA.assign(kaimingUniform(context.loraA.shape, { a: Math.sqrt(5), fanIn }));
    context.loraB.assign(0);
    context.loraBBias?.assign(0);
  },
};

/** Registers the `eva` init strategy with @lorakit/lora's registry; importing the package does this. */
export function registerEvaInit(): void {
  registerInitStrategy(evaStrategy);
}
