import { getPeftModel, LoraConfig, LoraLinear, registerLayerDispatcher } from '@lorakit/lora';
import { Module } from '@lorakit/nn';
import { eye, manualSeed, randn, type Tensor } from '@lorakit/tensor';
import { beforeEach, describe, expect, it } from 'vitest';
import { expectClose, references } from '../../test/helpers.js';
import { Holder, linearWith } from '../../test/modules.js';
import '../index.js';
import { oloraInit } from './olora.js';

function wrap(
  weight: Tensor,
  options: { r: number; alpha: number; kind?: 'linear' | 'conv1d'; init?: string },
) {
  const peft = getPeftModel(
    new Holder(linearWith(weight, options.kind)),
    new LoraConfig({
      r: options.r,
      loraAlpha: options.alpha,
      targetModules: ['proj'],
      initLoraWeights: options.init ?? 'olora',
    }),
  );
  return { peft, layer: peft.model.getSubmodule<LoraLinear>('proj') };
}

describe('oloraInit', () => {
  it('takes B = Q[:, :r] and A = R[:r] of LAPACK’s Householder QR (NumPy reference, element-wise)', () => {
    const { tensors, cases } = references();
    for (const name of ['olora_tall', 'olora_wide']) {
      const { r, scaling } = cases[name] as { r: number; scaling: number };
      const weight = tensors.get(`${name}.weight`)!;
      const { a, b, residual } = oloraInit(weight, r, scaling);
      expectClose(a, tensors.get(`${name}.lora_A`)!, 2e-6, `${name} A`);
      expectClose(b, tensors.get(`${name}.lora_B`)!, 2e-6, `${name} B`);
      expectClose(residual, tensors.get(`${name}.residual`)!, 4e-6, `${name} residual`);
      expectClose(b.T.matmul(b), eye(r), 2e-6, 'BᵀB = I');
    }
  });

  it('does not divide by the scaling: the factors are the same for any α, the residual subtracts s·B·A', () => {
    manualSeed(0);
    const weight = randn([10, 7]);
    const one = oloraInit(weight, 3, 1);
    const four = oloraInit(weight, 3, 4);
    expectClose(four.a, one.a, 0);
    expectClose(four.residual.add(four.b.matmul(four.a).mul(4)), weight, 4e-6);
  });

  it('rejects a rank above min(out, in)', () => {
    expect(() => oloraInit(randn([3, 8]), 4, 1)).toThrow(
      '[oloraInit] r=4 exceeds min(out_features, in_features)=3 of the weight [3, 8]; oloraInit can take at most 3 components',
    );
  });
});

describe("init_lora_weights: 'olora'", () => {
  beforeEach(() => manualSeed(2));

  it('preserves the output; the value is case-insensitive as in PEFT', () => {
    const weight = randn([9, 12]);
    const x = randn([4, 12]);
    for (const init of ['olora', 'OLoRA']) {
      const { peft, layer } = wrap(weight, { r: 4, alpha: 16, init });
      expectClose(peft.model.call(x) as Tensor, x.matmul(weight.T), 5e-6, init);
      expectClose(layer.baseWeight(), oloraInit(weight, 4, 4).residual, 0);
    }
  });

  it('factors a square GPT-2 Conv1D weight as stored, reproducing PEFT 0.21 (no fan_in_fan_out transpose)', () => {
    const { tensors } = references();
    const { layer } = wrap(tensors.get('olora_conv1d_square.weight')!, { r: 3, alpha: 6, kind: 'conv1d' });
    const { a, b } = layer.factorParameters('default');
    expectClose(a, tensors.get('olora_conv1d_square.lora_A')!, 2e-6, 'lora_A');
    expectClose(b, tensors.get('olora_conv1d_square.lora_B')!, 2e-6, 'lora_B');
    expectClose(layer.baseWeight(), tensors.get('olora_conv1d_square.base_after')!, 2e-6, 'base_after');
    expectClose(layer.deltaWeight('default'), tensors.get('olora_conv1d_square.delta')!, 2e-6, 'delta');
  });

  it('refuses a non-square Conv1D weight, where PEFT builds mis-shaped factors', () => {
    expect(() => wrap(randn([8, 12]), { r: 2, alpha: 2, kind: 'conv1d' })).toThrow(
      "[olora] OLoRA factors the weight as stored (PEFT 0.21 does not transpose fan_in_fan_out weights): on the Conv1D layer proj with stored weight [8, 12] this gives lora_A [2, 12] but the layer needs [2, 8] (PEFT fails at the first forward); use 'pissa' for GPT-2 Conv1D layers",
    );
  });

  it('rejects float64 base weights', () => {
    expect(() => wrap(randn([6, 6]).double(), { r: 2, alpha: 2 })).toThrow(
      '[olora] Unsupported data type for the base layer. (proj has a float64 base weight)',
    );
  });
});

/** A linear layer that stores its weight rounded to multiples of `step` (a stand-in for a 4-bit layer). */
class RoundedLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  #weight: Tensor;
  constructor(
    weight: Tensor,
    readonly step: number,
  ) {
    super();
    [this.outFeatures, this.inFeatures] = weight.shape as [number, number];
    this.#weight = this.quantize(weight);
  }
  quantize(w: Tensor): Tensor {
    return w.div(this.step).round().mul(this.step);
  }
  readBaseWeight(): Tensor {
    return this.#weight;
  }
  writeBaseWeight(weight: Tensor): void {
    this.#weight = this.quantize(weight);
  }
  forward(x: Tensor): Tensor {
    return x.matmul(this.#weight.T);
  }
}

describe('quantized base layers (WeightAccess)', () => {
  registerLayerDispatcher({
    name: 'rounded-linear',
    matches: (m) => m instanceof RoundedLinear,
    create: (m) => new LoraLinear(m, false),
  });

  it('OLoRA reads the dequantized weight and hands the residual back to be requantized, as PEFT does for bnb', () => {
    manualSeed(4);
    const layer = new RoundedLinear(randn([8, 10]), 1 / 64);
    const weight = layer.readBaseWeight();
    const peft = getPeftModel(
      new Holder(layer),
      new LoraConfig({ r: 3, loraAlpha: 3, targetModules: ['proj'], initLoraWeights: 'olora' }),
    );
    const lora = peft.model.getSubmodule<LoraLinear>('proj');
    const expected = oloraInit(weight, 3, 1);
    expectClose(lora.baseWeight(), layer.quantize(expected.residual), 0, 'requantized residual');
    expectClose(lora.factorParameters('default').a, expected.a, 0, 'A');
  });

  it('PiSSA refuses quantized weights (PEFT’s message)', () => {
    expect(() =>
      getPeftModel(
        new Holder(new RoundedLinear(randn([4, 4]), 0.1)),
        new LoraConfig({ r: 2, targetModules: ['proj'], initLoraWeights: 'pissa' }),
      ),
    ).toThrow(
      '[pissa] Please initialize PiSSA under float32, float16, or bfloat16. Subsequently, re-quantize the residual model to help minimize quantization errors. (proj has a quantized base weight)',
    );
  });
});
