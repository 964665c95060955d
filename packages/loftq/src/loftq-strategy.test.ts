import { join } from 'node:path';
import { getPeftModel, LoraConfig, type LoraLayer, loadAdapter } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import { readTensorFile, type Tensor } from '@lorakit/tensor';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { describe, expect, it } from 'vitest';
import { maxError, maxErrorUpToSign, values } from '../test/helpers.js';
import './index.js';
import { loftqInit } from './loftq-init.js';
import { configureLoftq } from './loftq-strategy.js';
import { loadQuantizedModel, quantizeModel } from './model/quantize-model.js';
import { nf4Dequantize, nf4Quantize } from './quant/nf4.js';

const golden = join(peftFixturesDir(), 'init_loftq_4bit_1iter');
const io = readTensorFile(join(golden, 'io.safetensors'));
const MODULES = [
  'model.layers.0.self_attn.q_proj',
  'model.layers.0.mlp.up_proj',
  'model.layers.1.self_attn.q_proj',
  'model.layers.1.mlp.up_proj',
];
const loftq = (bits = 4, iterations = 1) =>
  new LoraConfig({
    r: 4,
    loraAlpha: 8,
    targetModules: ['q_proj', 'up_proj'],
    initLoraWeights: 'loftq',
    loftqConfig: { loftq_bits: bits, loftq_iter: iterations },
  });

function expectGolden(layers: Map<string, LoraLayer>): void {
  for (const module of MODULES) {
    const layer = layers.get(module)!;
    const { a, b } = layer.factorParameters('default');
    expect(values(layer.baseWeight())).toEqual(values(io.get(`${module}.base_after`)!));
    expect(maxError(layer.deltaWeight('default'), io.get(`${module}.delta`)!)).toBeLessThan(1e-4);
    expect(maxErrorUpToSign(a, io.get(`${module}.lora_A`)!, 0)).toBeLessThan(1e-4);
    expect(maxErrorUpToSign(b, io.get(`${module}.lora_B`)!, 1)).toBeLessThan(1e-4);
  }
}

describe('init_lora_weights="loftq" on quantized layers', () => {
  it('re-reads the unquantized weight of a loadQuantizedModel layer; the layer stores the requantized Q', async () => {
    const model = await loadQuantizedModel(join(golden, 'base'), { quantize: '4bit', load: loadModel });
    const peft = getPeftModel(model, loftq());
    expectGolden(new Map(peft.loraLayers()));
  });

  it('needs the unquantized weight', async () => {
    const model = await loadModel(join(golden, 'base'));
    quantizeModel(model, { bits: 4 });
    expect(() => getPeftModel(model, loftq())).toThrow(
      '[loftq] model.layers.0.self_attn.q_proj is already quantized (Linear4bit) and its unquantized weight is unknown. Apply LoftQ to the float model before quantizing it, load the model with loadQuantizedModel (which records its checkpoint), or call replaceLoraWeightsLoftq(peftModel, checkpointPath).',
    );
  });

  it('uses the bit width of the layer', async () => {
    const model = await loadQuantizedModel(join(golden, 'base'), { quantize: '8bit', load: loadModel });
    expect(() => getPeftModel(model, loftq(4))).toThrow(
      '[loftq] loftq_bits=4 does not match the 8-bit base layer model.layers.0.self_attn.q_proj',
    );
  });
});

describe('init_lora_weights="loftq" on float layers', () => {
  it('loading a saved LoftQ adapter rebuilds the fake-quantized base and keeps the saved factors', async () => {
    const peft = loadAdapter(await loadModel(join(golden, 'base')), join(golden, 'adapter'));
    const saved = readTensorFile(join(golden, 'adapter', 'adapter_model.safetensors'));
    for (const module of MODULES) {
      const layer = peft.loraLayers().find(([n]) => n === module)![1];
      expect(values(layer.baseWeight())).toEqual(values(io.get(`${module}.base_after`)!));
      const key = `base_model.model.${module}.lora_A.weight`;
      expect(values(layer.factorParameters('default').a)).toEqual(values(saved.get(key)!));
    }
  });

  it("PEFT ≤ 0.18's NFQuantizer gives the same NF4 result on the golden case", async () => {
    const previous = configureLoftq({ quantizer: 'nf' });
    try {
      const peft = getPeftModel(await loadModel(join(golden, 'base')), loftq());
      expectGolden(new Map(peft.loraLayers()));
    } finally {
      configureLoftq(previous);
    }
  });

  it('factorizes GPT-2 Conv1D weights in Linear layout and stores Q in Conv1D layout', async () => {
    const model = await loadModel(join(peftFixturesDir(), 'gpt2_conv1d', 'base'));
    const weight = model.getSubmodule('transformer.h.0.attn.c_attn').param('weight')!.clone(); // [in 32, out 96]
    const peft = getPeftModel(model, {
      r: 4,
      loraAlpha: 4,
      targetModules: ['c_attn'],
      fanInFanOut: true,
      initLoraWeights: 'loftq',
      loftqConfig: { loftq_bits: 4, loftq_iter: 1 },
    });
    const layer = peft.loraLayers().find(([n]) => n === 'transformer.h.0.attn.c_attn')![1];
    const { a, b } = layer.factorParameters('default');
    expect([a.shape, b.shape]).toEqual([
      [4, 32],
      [96, 4],
    ]);
    const q = nf4Dequantize(nf4Quantize(weight.T.contiguous()));
    expect(values(layer.baseWeight())).toEqual(values(q.T.contiguous()));
    const reference = loftqInit(weight.T, { bits: 4, rank: 4 });
    expect(maxError(b.matmul(a), reference.loraB.matmul(reference.loraA))).toBeLessThan(1e-6);
  });

  it('a randomized SVD (configureLoftq) fits almost as well as the exact one', async () => {
    const weight = (await loadModel(join(golden, 'base')))
      .getSubmodule('model.layers.0.mlp.up_proj')
      .param('weight')!;
    const exact = loftqInit(weight, { bits: 4, rank: 4 });
    const fast = loftqInit(weight, { bits: 4, rank: 4, svd: { method: 'lowrank', niter: 4 } });
    const residual = (r: typeof exact) =>
      weight.sub(r.dequantized).sub(r.loraB.matmul(r.loraA)).norm().item();
    expect(residual(fast)).toBeLessThan(residual(exact) * 1.05);
    expect(values(fast.dequantized)).toEqual(values(exact.dequantized));
  });

  it('more alternations reduce ‖W − Q − BA‖ (scaling 1)', async () => {
    const weight = (await loadModel(join(golden, 'base')))
      .getSubmodule('model.layers.1.mlp.up_proj')
      .param('weight')!;
    const residual = (t: number) => {
      const r = loftqInit(weight, { bits: 4, rank: 8, iterations: t });
      return weight.sub(r.dequantized).sub(r.loraB.matmul(r.loraA)).norm().item();
    };
    const [one, five] = [residual(1), residual(5)];
    expect(five).toBeLessThan(one);
  });

  it("reports PEFT's errors", async () => {
    const model = await loadModel(join(golden, 'base'));
    expect(() => getPeftModel(model, loftq(2))).toThrow(
      '[loftq] Only nf4 and int8 quantization is supported: loftq_bits must be 4 or 8, received 2',
    );
    expect(() => getPeftModel(model, loftq(4, 0))).toThrow(
      '[loftq] Number of iterations must be greater than 0: loftq_iter must be a positive integer, received 0',
    );
    const weight = model.getSubmodule('model.layers.0.mlp.up_proj').param('weight')! as Tensor;
    expect(() => loftqInit(weight, { bits: 4, rank: 40 })).toThrow(
      '[loftq] the rank must be an integer in [1, 32] for a [64, 32] weight, received 40',
    );
    expect(() => loftqInit(weight.reshape(-1), { bits: 4, rank: 4 })).toThrow(
      '[loftq] Only support 2D matrix, but your input has 1 dimensions.',
    );
    expect(() => loftqInit(weight, { bits: 4, rank: 4, iterations: 1.5 })).toThrow(
      '[loftq] Number of iterations must be greater than 0, received 1.5',
    );
  });
});
