import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  getPeftModel,
  LoraConfig,
  type LoraLinear,
  loadAdapter,
  registerInitStrategy,
  saveAdapter,
  unregisterInitStrategy,
} from '@lorakit/lora';
import { Linear, Module } from '@lorakit/nn';
import { manualSeed, noGrad, randn, svd, type Tensor } from '@lorakit/tensor';
import { afterAll, describe, it } from 'vitest';
import { expectClose } from '../test/helpers.js';
import { splitSingularTriplets } from './index.js';

class Attention extends Module {
  constructor() {
    super();
    this.registerModule('q_proj', new Linear(16, 16));
    this.registerModule('v_proj', new Linear(16, 12));
  }
  forward(x: Tensor): Tensor {
    return this.child('v_proj').call(this.child('q_proj').call(x));
  }
}

describe('README: a third-party base-mutating init strategy', () => {
  afterAll(() => unregisterInitStrategy('milora'));

  it('registers MiLoRA, keeps the output at step 0, and rebuilds the residual when loading', async () => {
    // ── README example ──
    // MiLoRA (Wang et al. 2024, arXiv:2406.09044): the adapter starts from the r *minor* singular
    // triplets of W; the frozen base keeps the principal part.
    registerInitStrategy({
      name: 'milora',
      kinds: ['linear'],
      modifiesBaseWeight: true, // loading a saved adapter re-runs it to rebuild the residual base
      initialize(ctx) {
        noGrad(() => {
          const stored = ctx.baseWeight(); // float32, in the layer's layout
          const weight = ctx.fanInFanOut ? stored.T.contiguous() : stored; // [out, in]
          const { u, s, vh } = svd(weight);
          const first = s.shape[0]! - ctx.r; // the r smallest singular values come last
          const { a, b, residual } = splitSingularTriplets(
            weight,
            u.narrow(1, first, ctx.r),
            s.narrow(0, first, ctx.r),
            vh.narrow(0, first, ctx.r),
            ctx.scaling,
          );
          ctx.loraA.assign(a);
          ctx.loraB.assign(b);
          ctx.setBaseWeight(ctx.fanInFanOut ? residual.T.contiguous() : residual);
        });
      },
    });
    const config = new LoraConfig({
      r: 4,
      loraAlpha: 8,
      targetModules: ['q_proj'],
      initLoraWeights: 'milora',
    });
    // ── end of example ──
    manualSeed(0);
    const model = new Attention();
    const original = model.child('q_proj').param('weight')!.clone();
    const x = randn([3, 16]);
    const before = model.call(x);
    const peft = getPeftModel(model, config);
    expectClose(peft.model.call(x) as Tensor, before, 5e-6, 'output at step 0');
    const layer = peft.model.getSubmodule<LoraLinear>('q_proj');
    const { u, s, vh } = svd(original);
    const minor = u
      .narrow(1, 12, 4)
      .mul(s.narrow(0, 12, 4).unsqueeze(0))
      .matmul(vh.narrow(0, 12, 4));
    expectClose(layer.deltaWeight('default'), minor, 2e-6, 'delta = minor part');

    // The residual base is rebuilt from the original weights when the saved adapter is loaded.
    layer.loraB('default').weight.assign(randn([16, 4], { std: 0.1 }));
    const trained = peft.model.call(x) as Tensor;
    const dir = mkdtempSync(join(tmpdir(), 'milora-'));
    await saveAdapter(peft, dir);
    const fresh = new Attention();
    fresh.child('q_proj').param('weight')!.assign(original);
    fresh.child('q_proj').param('bias')!.assign(model.child('q_proj').child('base_layer').param('bias')!);
    fresh.child('v_proj').param('weight')!.assign(model.child('v_proj').param('weight')!);
    fresh.child('v_proj').param('bias')!.assign(model.child('v_proj').param('bias')!);
    expectClose(loadAdapter(fresh, dir).model.call(x) as Tensor, trained, 5e-6, 'reloaded');
  });
});
