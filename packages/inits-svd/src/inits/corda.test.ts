import { getPeftModel, LoraConfig, type LoraLinear } from '@lorakit/lora';
import { Parameter } from '@lorakit/nn';
import { eye, manualSeed, randn, type Tensor } from '@lorakit/tensor';
import { beforeEach, describe, expect, it } from 'vitest';
import { expectClose } from '../../test/helpers.js';
import { Holder, linearWith } from '../../test/modules.js';
import '../index.js';
import { cordaConfig } from '../corda/corda-config.js';
import { cordaDecomposition, cropCordaEigens } from '../corda/corda-eigens.js';
import { attachCordaEigens } from '../corda/eigens-store.js';
import { preprocessCorda } from '../corda/preprocess-corda.js';
import { cordaInit } from './corda.js';

const config = (r = 2, alpha = 4) =>
  new LoraConfig({
    r,
    loraAlpha: alpha,
    targetModules: ['proj'],
    initLoraWeights: 'corda',
    cordaConfig: cordaConfig(),
  });

describe('cordaInit', () => {
  beforeEach(() => manualSeed(0));

  it('splits √(S/s) between the factors and subtracts s·B·A', () => {
    const weight = randn([5, 7]);
    const x = randn([40, 7]);
    const eigens = cropCordaEigens(cordaDecomposition(weight, x.T.matmul(x).div(40)), 3, 'ipm');
    const { a, b, residual } = cordaInit(weight, eigens, 2);
    const root = eigens.s.div(2).sqrt();
    expectClose(a, eigens.v.T.mul(root.unsqueeze(1)), 1e-6, 'A = diag(√(S/s))·Vᵀ');
    expectClose(b, eigens.u.mul(root.unsqueeze(0)), 1e-6, 'B = U·diag(√(S/s))');
    expectClose(residual.add(b.matmul(a).mul(2)), weight, 2e-6, 'reconstruction');
    expectClose(b.T.matmul(b), eye(3).mul(eigens.s.div(2).unsqueeze(0)), 2e-6, 'BᵀB = diag(S/s)');
  });
});

describe("init_lora_weights: 'corda'", () => {
  beforeEach(() => manualSeed(1));

  it('works on a GPT-2 Conv1D layer (covariance of the [in]-sized input, weight transposed)', async () => {
    const weight = randn([6, 9]);
    const model = new Holder(linearWith(weight.T.contiguous(), 'conv1d'));
    const reference = new Holder(linearWith(weight));
    const data = [randn([1, 8, 9]), randn([1, 5, 9])];
    const feed = (m: Holder) => () => {
      for (const x of data) m.call(x);
    };
    await preprocessCorda(model, config(), feed(model));
    await preprocessCorda(reference, config(), feed(reference));
    const conv = getPeftModel(model, config()).model.getSubmodule<LoraLinear>('proj');
    const linear = getPeftModel(reference, config()).model.getSubmodule<LoraLinear>('proj');
    expectClose(conv.baseWeight(), linear.baseWeight().T, 2e-6, 'residual');
    expectClose(conv.deltaWeight('default'), linear.deltaWeight('default').T, 2e-6, 'delta');
    const x = randn([3, 9]);
    expectClose(
      conv.call(x) as Tensor,
      x.matmul(weight.T).add(conv.baseLayer.param('bias')!),
      5e-6,
      'output',
    );
  });

  it('needs preprocessCorda first (PEFT’s message)', () => {
    expect(() => getPeftModel(new Holder(linearWith(randn([4, 4]))), config())).toThrow(
      '[corda] `eigens` attribute not found for layer proj, please run `preprocess_corda` first (preprocessCorda(model, config, runModel) before getPeftModel). More information can be found at examples/corda_finetuning/README.md.',
    );
  });

  it('rejects eigens built for another rank or holding invalid values', () => {
    const module = linearWith(randn([4, 6]));
    const eigens = cropCordaEigens(cordaDecomposition(module.param('weight')!, eye(6)), 3, 'ipm');
    attachCordaEigens(module, eigens);
    expect(() => getPeftModel(new Holder(module), config(2))).toThrow(
      "[corda] Matrix U size mismatch for proj: [4, 3] vs. [4, 2]. Please make sure the `lora_config` and `model` argument of `preprocess_corda` is consistent with `get_peft_model`. If you're using cache in `preprocess_corda`, please make sure the cache is built with the same model and LoRA rank.",
    );
    attachCordaEigens(module, { ...eigens, s: eigens.s.narrow(0, 0, 2) });
    expect(() => getPeftModel(new Holder(module), config(3))).toThrow(
      '[corda] Matrix S size mismatch for proj: [2] vs. [3]. Please make sure',
    );
    attachCordaEigens(module, { ...eigens, v: eigens.v.narrow(0, 0, 5) });
    expect(() => getPeftModel(new Holder(module), config(3))).toThrow(
      '[corda] Matrix V size mismatch for proj: [5, 3] vs. [6, 3]. Please make sure',
    );
    attachCordaEigens(module, { ...eigens, s: eigens.s.mul(Number.NaN) });
    expect(() => getPeftModel(new Holder(module), config(3))).toThrow(
      '[corda] Invalid value found in matrix S of proj. Please file an issue at https://github.com/huggingface/peft/issues.',
    );
  });

  it('rejects float64 base weights (PEFT’s message)', () => {
    const module = linearWith(randn([4, 6]));
    module.registerParameter('weight', new Parameter(randn([4, 6]).double()));
    expect(() => getPeftModel(new Holder(module), config())).toThrow(
      '[corda] Please initialize CorDA under float32, float16, or bfloat16. Subsequently, re-quantize the residual model to help minimize quantization errors. (proj has a float64 base weight)',
    );
  });
});
