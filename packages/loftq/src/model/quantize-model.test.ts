import { join } from 'node:path';
import { getPeftModel } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import { Linear } from '@lorakit/nn';
import { tensor } from '@lorakit/tensor';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { describe, expect, it } from 'vitest';
import { maxError } from '../../test/helpers.js';
import '../index.js';
import { Linear4bit } from '../layers/linear-4bit.js';
import { Linear8bitLt } from '../layers/linear-8bit.js';
import { int8Dequantize, int8Quantize } from '../quant/int8.js';
import { nf4Dequantize, nf4Quantize } from '../quant/nf4.js';
import { prepareModelForKbitTraining } from './prepare.js';
import { allLinearTargets, loadQuantizedModel, quantizedLayers, quantizeModel } from './quantize-model.js';

const base = join(peftFixturesDir(), 'init_loftq_4bit_1iter', 'base');
const inputIds = tensor([[1, 5, 9, 33, 70, 2, 8]], { dtype: 'int64' });
const LINEARS = [0, 1].flatMap((i) => [
  ...['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((p) => `model.layers.${i}.self_attn.${p}`),
  ...['gate_proj', 'up_proj', 'down_proj'].map((p) => `model.layers.${i}.mlp.${p}`),
]);

describe('quantizeModel', () => {
  for (const bits of [4, 8] as const) {
    it(`${bits}-bit: replaces every linear but the LM head; logits equal those of the fake-quantized float model`, async () => {
      const float = (await loadModel(base)).eval();
      const model = (await loadModel(base)).eval();
      const { quantized } = quantizeModel(model, { bits });
      expect(quantized).toEqual(LINEARS);
      expect(model.child('lm_head')).toBeInstanceOf(Linear);
      const kind = bits === 4 ? Linear4bit : Linear8bitLt;
      expect(quantizedLayers(model).every(([, m]) => m instanceof kind)).toBe(true);
      let removed = 0;
      for (const path of quantized) {
        const weight = float.getSubmodule<Linear>(path).weight;
        removed += weight.size;
        weight.assign(bits === 4 ? nf4Dequantize(nf4Quantize(weight)) : int8Dequantize(int8Quantize(weight)));
      }
      expect(maxError(model.forward({ inputIds }).logits, float.forward({ inputIds }).logits)).toBeLessThan(
        1e-5,
      );
      expect(model.numParameters()).toBe(float.numParameters() - removed);
    });
  }

  it('skips modules by name and disposes the float weights it replaced', async () => {
    const model = await loadModel(base);
    const qProj = model.getSubmodule<Linear>('model.layers.0.self_attn.q_proj').weight;
    const { quantized } = quantizeModel(model, {
      bits: 4,
      skipModules: ['lm_head', 'mlp', 'layers.1.self_attn.k_proj'],
    });
    expect(quantized).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.0.self_attn.k_proj',
      'model.layers.0.self_attn.v_proj',
      'model.layers.0.self_attn.o_proj',
      'model.layers.1.self_attn.q_proj',
      'model.layers.1.self_attn.v_proj',
      'model.layers.1.self_attn.o_proj',
    ]);
    expect(qProj.disposed).toBe(true);
  });

  it('rejects other bit widths', async () => {
    const model = await loadModel(base);
    expect(() => quantizeModel(model, { bits: 3 as 4 })).toThrow(
      '[quantizeModel] bits must be 4 or 8, received 3',
    );
    await expect(loadQuantizedModel(base, { quantize: '2bit' as '4bit', load: loadModel })).rejects.toThrow(
      `[loadQuantizedModel] quantize must be '4bit' or '8bit', received "2bit"`,
    );
  });

  it('takes the loader from the caller and rejects a missing one', async () => {
    const loaded: string[] = [];
    const model = await loadQuantizedModel(base, {
      quantize: '8bit',
      load: (dir) => {
        loaded.push(dir);
        return loadModel(dir);
      },
    });
    expect(loaded).toEqual([base]);
    expect(quantizedLayers(model).map(([p]) => p)).toEqual(LINEARS);
    await expect(
      loadQuantizedModel(base, { quantize: '4bit' } as unknown as Parameters<typeof loadQuantizedModel>[1]),
    ).rejects.toThrow(
      '[loadQuantizedModel] load must be a function that loads the float model from a folder (e.g. loadModel of @lorakit/models), received undefined',
    );
  });
});

describe('allLinearTargets', () => {
  it("lists what PEFT's all-linear targets on a quantized model, and lora's 'all-linear' selects the same", async () => {
    const model = await loadQuantizedModel(base, { quantize: '4bit', load: loadModel });
    expect(
      getPeftModel(await loadQuantizedModel(base, { quantize: '4bit', load: loadModel }), {
        targetModules: 'all-linear',
      }).targetedModuleNames,
    ).toEqual(LINEARS);
    expect(allLinearTargets(model)).toEqual(LINEARS);
    const peft = getPeftModel(model, { targetModules: allLinearTargets(model) });
    expect(peft.targetedModuleNames).toEqual(LINEARS);
  });
});

describe('loadQuantizedModel', () => {
  it('loads, quantizes and records where each unquantized weight lives', async () => {
    const model = await loadQuantizedModel(base, { quantize: '8bit', load: loadModel });
    const layers = quantizedLayers(model);
    expect(layers.map(([p]) => p)).toEqual(LINEARS);
    expect(layers[0]![1].originalWeight).toEqual({
      path: base,
      name: 'model.layers.0.self_attn.q_proj.weight',
      basePrefix: 'model',
    });
  });
});

describe('prepareModelForKbitTraining', () => {
  it('freezes the base and casts bf16 norms, embeddings and head to float32, keeping ties', async () => {
    const model = await loadQuantizedModel(base, {
      quantize: '4bit',
      load: (dir) => loadModel(dir, { dtype: 'bfloat16' }),
    });
    const { upcast, hook } = prepareModelForKbitTraining(model);
    expect(hook).toBeUndefined();
    expect(upcast).toContain('model.norm.weight');
    expect(upcast).toContain('lm_head.weight');
    expect(model.parameters().every((p) => p.dtype === 'float32' && !p.requiresGrad)).toBe(true);
    expect(model.namedBuffers().every(([, t]) => t.dtype !== 'bfloat16')).toBe(true);
  });

  it('optionally makes the input embeddings’ output require grad', async () => {
    const model = await loadQuantizedModel(base, { quantize: '4bit', load: loadModel });
    const { hook } = prepareModelForKbitTraining(model, { inputRequireGrads: true });
    const hidden = model.getSubmodule('model.embed_tokens').call(inputIds);
    expect(hidden.requiresGrad).toBe(true);
    hook!.remove();
    expect(model.getSubmodule('model.embed_tokens').call(inputIds).requiresGrad).toBe(false);
  });
});
