import { kaimingUniform, rand, randn } from '@lorakit/tensor';
import type { InitContext } from './init-registry.js';
import { registerInitStrategy } from './init-registry.js';

/** fan-in of lora_A: in_features (× kernel size for conv), as PyTorch's init computes it. */
function fanIn(shape: readonly number[]): number {
  return shape.slice(1).reduce((a, b) => a * b, 1);
}

function zeroB(ctx: InitContext): void {
  ctx.loraB.assign(0);
  ctx.loraBBias?.assign(0);
}

/** Embedding default: A = 0, B ~ N(0, 1) — the zero factor is the opposite one from linear layers. */
function embeddingDefault(ctx: InitContext): void {
  ctx.loraA.assign(0);
  ctx.loraB.assign(randn(ctx.loraB.shape, { generator: ctx.generator }));
}

/** Registers `true` (kaiming-uniform A, zero B), `false` (PyTorch module defaults) and `'gaussian'`. */
export function registerBuiltinInits(): void {
  registerInitStrategy({
    name: 'kaiming',
    kinds: ['linear', 'conv', 'embedding'],
    matches: (value) => value === true,
    initialize(ctx) {
      if (ctx.kind === 'embedding') return embeddingDefault(ctx);
      // kaiming_uniform(a=√5) → U(±1/√fan_in) (Hu et al. 2021's reference implementation).
      ctx.loraA.assign(
        kaimingUniform(ctx.loraA.shape, {
          a: Math.sqrt(5),
          fanIn: fanIn(ctx.loraA.shape),
          generator: ctx.generator,
        }),
      );
      zeroB(ctx);
    },
  });
  registerInitStrategy({
    name: 'gaussian',
    kinds: ['linear', 'conv', 'embedding'],
    initialize(ctx) {
      if (ctx.kind === 'embedding') return embeddingDefault(ctx);
      ctx.loraA.assign(randn(ctx.loraA.shape, { std: 1 / ctx.r, generator: ctx.generator }));
      zeroB(ctx);
    },
  });
  registerInitStrategy({
    name: 'false',
    kinds: ['linear', 'conv', 'embedding'],
    matches: (value) => value === false,
    initialize(ctx) {
      if (ctx.kind === 'embedding') {
        ctx.loraA.assign(randn(ctx.loraA.shape, { generator: ctx.generator }));
        ctx.loraB.assign(randn(ctx.loraB.shape, { generator: ctx.generator }));
        return;
      }
      // Left at nn.Linear / nn.ConvNd defaults: U(±1/√fan_in) for A, B and B's bias.
      ctx.loraA.assign(
        kaimingUniform(ctx.loraA.shape, {
          a: Math.sqrt(5),
          fanIn: fanIn(ctx.loraA.shape),
          generator: ctx.generator,
        }),
      );
      ctx.loraB.assign(
        kaimingUniform(ctx.loraB.shape, {
          a: Math.sqrt(5),
          fanIn: fanIn(ctx.loraB.shape),
          generator: ctx.generator,
        }),
      );
      if (ctx.loraBBias) {
        const bound = 1 / Math.sqrt(fanIn(ctx.loraB.shape));
        ctx.loraBBias.assign(
          rand(ctx.loraBBias.shape, { low: -bound, high: bound, generator: ctx.generator }),
        );
      }
    },
  });
}
