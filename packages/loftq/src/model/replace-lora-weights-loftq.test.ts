import { join } from 'node:path';
import { getPeftModel, LoraConfig, type PeftModel } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import { readTensorFile, type Tensor } from '@lorakit/tensor';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { describe, expect, it } from 'vitest';
import { maxError, maxErrorUpToSign, values } from '../../test/helpers.js';
import '../index.js';
import { loadQuantizedModel, quantizeModel } from './quantize-model.js';
import { replaceLoraWeightsLoftq } from './replace-lora-weights-loftq.js';

const golden = join(peftFixturesDir(), 'init_loftq_4bit_1iter');
const io = readTensorFile(join(golden, 'io.safetensors'));
const config = new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'up_proj'] });
const MODULES = [
  'model.layers.0.self_attn.q_proj',
  'model.layers.0.mlp.up_proj',
  'model.layers.1.self_attn.q_proj',
  'model.layers.1.mlp.up_proj',
];

async function quantizedPeft(): Promise<PeftModel> {
  return getPeftModel(
    await loadQuantizedModel(join(golden, 'base'), { quantize: '4bit', load: loadModel }),
    config,
  );
}

function layer(peft: PeftModel, module: string) {
  return peft.loraLayers().find(([n]) => n === module)![1];
}

describe('replaceLoraWeightsLoftq', () => {
  it('gives the one-step LoftQ factors of the golden case (its Q is NF4(W) too) and leaves the base alone', async () => {
    const peft = await quantizedPeft();
    const before = MODULES.map((m) => values(layer(peft, m).baseWeight()));
    const result = await replaceLoraWeightsLoftq(peft);
    expect(result).toEqual({ replaced: MODULES, rejected: [] });
    MODULES.forEach((module, i) => {
      const l = layer(peft, module);
      const { a, b } = l.factorParameters('default');
      expect(values(l.baseWeight())).toEqual(before[i]);
      expect(values(l.baseWeight())).toEqual(values(io.get(`${module}.base_after`)!));
      expect(maxErrorUpToSign(a, io.get(`${module}.lora_A`)!, 0)).toBeLessThan(1e-4);
      expect(maxErrorUpToSign(b, io.get(`${module}.lora_B`)!, 1)).toBeLessThan(1e-4);
      expect(maxError(l.deltaWeight('default'), io.get(`${module}.delta`)!)).toBeLessThan(1e-4);
    });
  });

  it('takes an explicit checkpoint (file or folder) for a model quantized in memory', async () => {
    const model = await loadModel(join(golden, 'base'));
    quantizeModel(model, { bits: 4 });
    const peft = getPeftModel(model, config);
    const result = await replaceLoraWeightsLoftq(peft, join(golden, 'base', 'model.safetensors'));
    expect(result.replaced).toEqual(MODULES);
    const module = MODULES[1]!;
    expect(maxError(layer(peft, module).deltaWeight('default'), io.get(`${module}.delta`)!)).toBeLessThan(
      1e-4,
    );
  });

  it('rolls back the replacements the callback rejects, which may be async', async () => {
    const peft = await quantizedPeft();
    const previous = new Map(MODULES.map((m) => [m, values(layer(peft, m).factorParameters('default').a)]));
    const seen: string[] = [];
    const result = await replaceLoraWeightsLoftq(peft, undefined, {
      callback: async (model, name) => {
        expect(model).toBe(peft);
        seen.push(name);
        return !name.includes('q_proj');
      },
    });
    expect(seen).toEqual(MODULES);
    expect(result).toEqual({ replaced: [MODULES[1], MODULES[3]], rejected: [MODULES[0], MODULES[2]] });
    for (const module of MODULES) {
      const a = values(layer(peft, module).factorParameters('default').a);
      if (module.includes('q_proj')) expect(a).toEqual(previous.get(module));
      else expect(a).not.toEqual(previous.get(module));
    }
  });

  it('reports what is missing', async () => {
    const float = getPeftModel(await loadModel(join(golden, 'base')), config);
    await expect(replaceLoraWeightsLoftq(float, join(golden, 'base'))).rejects.toThrow(
      '[replaceLoraWeightsLoftq] No quantized LoRA module found on the model (quantize the base with quantizeModel or loadQuantizedModel before getPeftModel)',
    );
    const model = await loadModel(join(golden, 'base'));
    quantizeModel(model, { bits: 4 });
    const peft = getPeftModel(model, config);
    await expect(replaceLoraWeightsLoftq(peft)).rejects.toThrow(
      '[replaceLoraWeightsLoftq] The model was not loaded with loadQuantizedModel; pass the path of the unquantized safetensors checkpoint.',
    );
    await expect(replaceLoraWeightsLoftq(peft, '/nonexistent/llama')).rejects.toThrow(
      '[loftq] Could not find file for /nonexistent/llama, ensure that there is a (sharded) safetensors file of the model.',
    );
    await expect(
      replaceLoraWeightsLoftq(peft, join(golden, 'base'), { adapterName: 'other' }),
    ).rejects.toThrow(
      '[replaceLoraWeightsLoftq] model.layers.0.self_attn.q_proj has no adapter "other"; its adapters: default',
    );
    const unrelated = join(peftFixturesDir(), 'gpt2_conv1d', 'base');
    await expect(replaceLoraWeightsLoftq(peft, unrelated)).rejects.toThrow(
      '[loftq] the checkpoint has no tensor "model.layers.0.self_attn.q_proj.weight" (nor "layers.0.self_attn.q_proj.weight")',
    );
  });

  it('handles 8-bit bases the same way', async () => {
    const peft = getPeftModel(
      await loadQuantizedModel(join(golden, 'base'), { quantize: '8bit', load: loadModel }),
      config,
    );
    await replaceLoraWeightsLoftq(peft);
    const l = layer(peft, MODULES[0]!);
    const original = readTensorFile(join(golden, 'base', 'model.safetensors')).get(`${MODULES[0]}.weight`)!;
    const error = (t: Tensor) => t.norm().item();
    const { a, b } = l.factorParameters('default');
    // B·A is the best rank-4 fit of W − Q: it must shrink the quantization error.
    expect(error(original.sub(l.baseWeight()).sub(b.matmul(a)))).toBeLessThan(
      error(original.sub(l.baseWeight())),
    );
  });
});
