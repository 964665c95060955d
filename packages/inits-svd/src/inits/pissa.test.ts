import { getPeftModel, LoraConfig, type LoraEmbedding, type LoraLinear } from '@lorakit/lora';
import { Conv2d, Parameter } from '@lorakit/nn';
import { eye, manualSeed, randn, svd, type Tensor } from '@lorakit/tensor';
import { beforeEach, describe, expect, it } from 'vitest';
import { expectClose, expectCloseUpToSign, references } from '../../test/helpers.js';
import { Holder, linearWith, Mixed } from '../../test/modules.js';
import '../index.js';
import { pissaInit } from './pissa.js';

/** diag(v) for a vector v. */
const diag = (v: Tensor) => eye(v.shape[0]!).mul(v.unsqueeze(0));

function wrap(
  weight: Tensor,
  options: { r: number; alpha: number; kind?: 'linear' | 'conv1d'; rslora?: boolean },
) {
  const model = new Holder(linearWith(weight, options.kind));
  const peft = getPeftModel(
    model,
    new LoraConfig({
      r: options.r,
      loraAlpha: options.alpha,
      targetModules: ['proj'],
      initLoraWeights: 'pissa',
      useRslora: options.rslora ?? false,
    }),
  );
  return { model, peft, layer: peft.model.getSubmodule<LoraLinear>('proj') };
}

describe('pissaInit', () => {
  beforeEach(() => manualSeed(0));

  it('moves the rank-r principal part into the adapter: W_res + s·B·A = W, BᵀB = A·Aᵀ = diag(S/s)', () => {
    const weight = randn([20, 12]);
    const scaling = 2.5;
    const { a, b, residual } = pissaInit(weight, 5, scaling);
    expect(a.shape).toEqual([5, 12]);
    expect(b.shape).toEqual([20, 5]);
    expectClose(residual.add(b.matmul(a).mul(scaling)), weight, 2e-6, 'reconstruction');
    const { u, s, vh } = svd(weight);
    const principal = u
      .narrow(1, 0, 5)
      .mul(s.narrow(0, 0, 5).unsqueeze(0))
      .matmul(vh.narrow(0, 0, 5));
    expectClose(b.matmul(a).mul(scaling), principal, 2e-6, 's·B·A = Uᵣ·Sᵣ·Vhᵣ');
    const gram = diag(s.narrow(0, 0, 5).div(scaling));
    expectClose(b.T.matmul(b), gram, 4e-6, 'BᵀB');
    expectClose(a.matmul(a.T), gram, 4e-6, 'A·Aᵀ');
    // The residual keeps exactly the other singular values.
    expectClose(svd(residual).s.narrow(0, 0, 7), s.narrow(0, 5, 7), 4e-6, 'residual spectrum');
  });

  it('divides the singular values by the scaling: s·B·A does not depend on α', () => {
    const weight = randn([9, 14]);
    const one = pissaInit(weight, 3, 1);
    const four = pissaInit(weight, 3, 4);
    expectClose(four.b.matmul(four.a).mul(4), one.b.matmul(one.a), 2e-6);
    expectClose(four.a, one.a.div(2), 1e-6, 'A scales with 1/√s');
  });

  it('rejects a rank above min(out, in) and a non-positive scaling', () => {
    expect(() => pissaInit(randn([6, 4]), 5, 1)).toThrow(
      '[pissaInit] r=5 exceeds min(out_features, in_features)=4 of the weight [6, 4]; pissaInit can take at most 4 components',
    );
    expect(() => pissaInit(randn([6, 4]), 2, 0)).toThrow(
      '[splitSingularTriplets] scaling must be a positive number, received 0',
    );
  });
});

describe("init_lora_weights: 'pissa'", () => {
  beforeEach(() => manualSeed(1));

  it('keeps the output at step 0 and stores the residual as the base weight', () => {
    const weight = randn([10, 16]);
    const x = randn([3, 16]);
    const { model, peft, layer } = wrap(weight, { r: 4, alpha: 8 });
    expect(model.call(x).shape).toEqual([3, 10]);
    expectClose(peft.model.call(x) as Tensor, x.matmul(weight.T), 5e-6, 'output');
    const expected = pissaInit(weight, 4, 2);
    expectClose(layer.baseWeight(), expected.residual, 0, 'base weight');
    expectClose(layer.deltaWeight('default'), expected.b.matmul(expected.a).mul(2), 0, 'delta');
  });

  it('composes with DoRA: the magnitude is taken from W_res + s·B·A, so the output is kept', () => {
    const weight = randn([10, 16]);
    const x = randn([3, 16]);
    const peft = getPeftModel(
      new Holder(linearWith(weight)),
      new LoraConfig({
        r: 4,
        loraAlpha: 8,
        targetModules: ['proj'],
        initLoraWeights: 'pissa',
        useDora: true,
      }),
    );
    expectClose(peft.model.call(x) as Tensor, x.matmul(weight.T), 1e-5, 'output with DoRA');
  });

  it('matches PEFT on a GPT-2 Conv1D layer (fan_in_fan_out) and with rsLoRA', () => {
    const { tensors, cases } = references();
    for (const name of ['pissa_conv1d', 'pissa_rslora']) {
      const { r, alpha } = cases[name] as { r: number; alpha: number };
      const { layer } = wrap(tensors.get(`${name}.weight`)!, {
        r,
        alpha,
        kind: name === 'pissa_conv1d' ? 'conv1d' : 'linear',
        rslora: name === 'pissa_rslora',
      });
      expectClose(layer.baseWeight(), tensors.get(`${name}.base_after`)!, 2e-6, `${name} base_after`);
      expectClose(layer.deltaWeight('default'), tensors.get(`${name}.delta`)!, 2e-6, `${name} delta`);
      const { a, b } = layer.factorParameters('default');
      expectCloseUpToSign(a, tensors.get(`${name}.lora_A`)!, 0, 2e-6, `${name} lora_A`);
      expectCloseUpToSign(b, tensors.get(`${name}.lora_B`)!, 1, 2e-6, `${name} lora_B`);
    }
  });

  it('computes in float32 and writes the residual back in bfloat16', () => {
    const weight = randn([8, 12]).cast('bfloat16');
    const module = linearWith(weight.float());
    module.registerParameter('weight', new Parameter(weight.clone()));
    const peft = getPeftModel(
      new Holder(module),
      new LoraConfig({ r: 3, loraAlpha: 3, targetModules: ['proj'], initLoraWeights: 'pissa' }),
    );
    const layer = peft.model.getSubmodule<LoraLinear>('proj');
    expect(layer.baseLayer.param('weight')!.dtype).toBe('bfloat16');
    expect(layer.factorParameters('default').a.dtype).toBe('float32');
    const expected = pissaInit(weight.float(), 3, 1);
    expectClose(layer.baseWeight(), expected.residual.cast('bfloat16').float(), 0, 'bf16 residual');
    // W_res (rounded to bf16) + s·B·A differs from W by the bf16 rounding of the residual only.
    expectClose(layer.baseWeight().add(layer.deltaWeight('default')), weight.float(), 0.02, 'reconstruction');
  });

  it('rejects float64 base weights with PEFT’s message', () => {
    expect(() => wrap(randn([6, 6]).double(), { r: 2, alpha: 2 })).toThrow(
      '[pissa] Please initialize PiSSA under float32, float16, or bfloat16. Subsequently, re-quantize the residual model to help minimize quantization errors. (proj has a float64 base weight)',
    );
  });

  it('rejects a rank above the layer’s min(out, in) naming the layer', () => {
    expect(() => wrap(randn([6, 4]), { r: 5, alpha: 5 })).toThrow(
      '[pissa] r=5 exceeds min(out_features, in_features)=4 of proj [6, 4]; pissa can take at most 4 components',
    );
  });

  it('rejects conv layers and leaves embeddings to the default init, as PEFT does', () => {
    const conv = new Holder(new Conv2d(3, 4, 3));
    expect(() =>
      getPeftModel(conv, new LoraConfig({ r: 2, targetModules: ['proj'], initLoraWeights: 'pissa' })),
    ).toThrow(
      "[lora] Unknown initialization init_lora_weights='pissa' for conv layer proj; registered strategies: kaiming, gaussian, false, pissa, pissa_niter, olora, corda, orthogonal (pissa supports linear layers)",
    );
    const peft = getPeftModel(
      new Mixed(),
      new LoraConfig({ r: 2, targetModules: ['embed', 'q_proj'], initLoraWeights: 'pissa' }),
    );
    const embedding = peft.model.getSubmodule<LoraEmbedding>('embed');
    const { a, b } = embedding.factorParameters('default');
    expect(a.abs().max().item()).toBe(0);
    expect(b.std().item()).toBeGreaterThan(0.5);
  });

  it('is case-sensitive like PEFT: "PiSSA" is an unknown initialization', () => {
    expect(() =>
      getPeftModel(
        new Mixed(),
        new LoraConfig({ r: 2, targetModules: ['q_proj'], initLoraWeights: 'PiSSA' }),
      ),
    ).toThrow("[lora] Unknown initialization init_lora_weights='PiSSA' for linear layer q_proj");
  });
});
