import { getPeftModel, type LoraConfigOptions, type PeftModel } from '@lorakit/lora';
import { type AnyModule, Conv2d, Embedding, Linear, Module } from '@lorakit/nn';
import { Generator, noGrad, randn } from '@lorakit/tensor';

/** A linear, an embedding, a 3×3 conv and a second linear: every LoRA layer kind. */
export class TinyNet extends Module<[], never> {
  constructor() {
    super();
    this.registerModule('lin', new Linear(16, 12));
    this.registerModule('emb', new Embedding(30, 8));
    this.registerModule('conv', new Conv2d(3, 6, 3, { padding: 1 }));
    this.registerModule('other', new Linear(12, 10));
  }
  forward(): never {
    throw new Error('TinyNet has no forward');
  }
}

/** Adds an adapter and fills its factors with N(0, 0.5²) draws (every init leaves some factor zero). */
export function addRandomAdapter(
  peft: PeftModel | AnyModule,
  name: string,
  config: LoraConfigOptions,
  seed: number,
): PeftModel {
  const options = { initLoraWeights: false, ...config };
  const model =
    'peftConfig' in peft ? (peft as PeftModel) : getPeftModel(peft, options, { adapterName: name });
  if (model.peftConfig.size > 1 || !model.peftConfig.has(name)) model.addAdapter(name, options);
  const generator = new Generator(seed);
  noGrad(() => {
    for (const [, layer] of model.loraLayers()) {
      if (!layer.hasAdapter(name)) continue;
      const { a, b } = layer.factorParameters(name);
      a.assign(randn(a.shape, { generator, std: 0.5 }));
      b.assign(randn(b.shape, { generator, std: 0.5 }));
    }
  });
  return model;
}
