import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getPeftModel, LoraConfig } from '@lorakit/lora';
import { createModel, type PreTrainedModel } from '@lorakit/models';
import { describe, expect, it } from 'vitest';
import { collate } from './batches.js';
import { finetune } from './finetune.js';
import {
  computeDtypeOf,
  describeMfu,
  modelShapeOf,
  type PeakRate,
  peakRateOf,
  stepFlops,
} from './throughput.js';

// What @lorakit/cuda-backend's describe() returns on the cards, as the CLI receives it.
const device = (name: string) =>
  `${name} (compute capability 9.0, 79.1 GiB, 132 SMs, driver 13000); kernels: fatbin sm_80 sm_90`;

describe('peak rates', () => {
  it.each([
    ['NVIDIA H100 80GB HBM3', 'H100 SXM', 989.4e12, 66.9e12],
    ['NVIDIA H100 PCIe', 'H100 PCIe', 756.5e12, 51.2e12],
    ['NVIDIA H100 NVL', 'H100 NVL', 835.5e12, 60e12],
    ['NVIDIA H200', 'H200 SXM', 989.4e12, 66.9e12],
    ['NVIDIA H200 NVL', 'H200 NVL', 835.5e12, 60e12],
    ['NVIDIA A100-SXM4-80GB', 'A100', 312e12, 19.5e12],
    ['NVIDIA A100 80GB PCIe', 'A100', 312e12, 19.5e12],
  ])('%s is %s', (name, row, half, f32) => {
    expect(peakRateOf(device(name), 'bfloat16')).toEqual({ name: row, precision: 'bf16/f16', flops: half });
    expect(peakRateOf(device(name), 'float16')).toEqual({ name: row, precision: 'bf16/f16', flops: half });
    expect(peakRateOf(device(name), 'float32')).toEqual({ name: row, precision: 'f32', flops: f32 });
  });

  it('knows no other device, no device, and no float64 rate', () => {
    for (const name of [
      'NVIDIA GH200 480GB',
      'NVIDIA GeForce RTX 4090',
      'NVIDIA H800',
      'AMD Ryzen 7 (2 threads)',
    ])
      expect(peakRateOf(device(name), 'bfloat16'), name).toBeUndefined();
    expect(peakRateOf(undefined, 'float32')).toBeUndefined();
    expect(peakRateOf(device('NVIDIA H100 80GB HBM3'), 'float64')).toBeUndefined();
  });

  it('only the device name counts, not the rest of the description', () => {
    expect(peakRateOf('Some card (kernels built for H100)', 'bfloat16')).toBeUndefined();
  });
});

describe('model FLOPs', () => {
  const config = {
    model_type: 'llama',
    vocab_size: 32,
    hidden_size: 64,
    intermediate_size: 128,
    num_attention_heads: 4,
    num_hidden_layers: 2,
    tie_word_embeddings: true,
  };

  it('counts the parameters of matrix products once (the tied head, not the embedding lookup)', () => {
    const model = createModel(config) as PreTrainedModel;
    const peft = getPeftModel(
      model,
      new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'] }),
    );
    // Per layer q, k, v, o (64×64 each), gate/up/down (64×128 each), two norms; the final norm; the head
    // tied to the 32×64 embedding; LoRA: r·(64 + 64) on two modules of two layers.
    const layer = 4 * 64 * 64 + 3 * 64 * 128 + 2 * 64;
    const lora = 2 * 2 * 4 * (64 + 64);
    expect(modelShapeOf(peft, model.config)).toEqual({
      matmulParameters: 2 * layer + 64 + 32 * 64 + lora,
      trainedParameters: lora,
      layers: 2,
      attentionWidth: 64,
    });
    expect(computeDtypeOf(peft)).toBe('float32');
  });

  it('is 6·N per token when everything trains, 4·N + 2·N_trained otherwise, plus 12·L·width per pair', () => {
    const shape = { matmulParameters: 1000, trainedParameters: 10, layers: 2, attentionWidth: 8 };
    expect(stepFlops(shape, { tokens: 5, attentionPairs: 13 })).toBe((4000 + 20) * 5 + 12 * 2 * 8 * 13);
    const full = { ...shape, trainedParameters: 1000 };
    expect(stepFlops(full, { tokens: 5, attentionPairs: 0 })).toBe(6 * 1000 * 5);
    expect(
      collate(
        [
          { inputIds: [1, 2, 3], labels: [1, 2, 3] },
          { inputIds: [4], labels: [4] },
        ],
        0,
      ),
    ).toMatchObject({
      tokens: 4,
      attentionPairs: 9 + 1,
    });
  });

  it('words the utilization, or says it is unknown', () => {
    const peak: PeakRate = { name: 'H100 SXM', precision: 'bf16/f16', flops: 989.4e12 };
    const h100 = { backend: 'cuda', device: device('NVIDIA H100 80GB HBM3') };
    expect(describeMfu(494.7e12, 1000, peak, h100)).toBe("MFU 50.0% of the H100 SXM's 989 TFLOP/s bf16/f16");
    expect(
      describeMfu(1e12, 1000, undefined, { backend: 'cuda', device: device('NVIDIA GeForce RTX 4090') }),
    ).toBe('MFU unknown: no peak rate for NVIDIA GeForce RTX 4090');
    expect(describeMfu(1e12, 1000, undefined, { backend: 'js' })).toBe(
      'MFU unknown: the js backend names no device',
    );
  });
});

describe('finetune reports the model FLOPs of its steps', () => {
  it('each step has the FLOPs of its batches and the run their sum', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lorakit-flops-'));
    const data = join(dir, 'data.txt');
    writeFileSync(
      data,
      `${Array.from({ length: 6 }, (_, i) => `copy: ${'abcdef'.slice(i)}|x`).join('\n')}\n`,
    );
    const steps: { step: number; flops: number; tokens: number | undefined }[] = [];
    let dtype: string | undefined;
    const result = await finetune({
      modelDir: join(import.meta.dirname, '..', '..', 'demo', 'base'),
      dataPath: data,
      out: join(dir, 'out'),
      loraConfig: new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'] }),
      settings: {
        maxSteps: 2,
        batchSize: 3,
        gradientAccumulation: 1,
        learningRate: 1e-3,
        weightDecay: 0,
        schedule: 'constant',
        warmupSteps: 0,
        seed: 1,
        evalSplit: 0,
        maxLength: 32,
        gradientCheckpointing: true,
      },
      onStart: (info) => {
        dtype = info.computeDtype;
      },
      onStep: (info, work) => steps.push({ step: info.step, flops: work.flops, tokens: info.tokens }),
    });
    expect(dtype).toBe('float32');
    expect(steps.map((s) => s.step)).toEqual([1, 2]);
    const shape = modelShapeOf(result.peft, result.model.config);
    // Every step: (4·N + 2·N_trained) per token plus attention; the pairs are at least tokens²/rows.
    for (const s of steps) {
      const dense = (4 * shape.matmulParameters + 2 * shape.trainedParameters) * s.tokens!;
      expect(s.flops).toBeGreaterThan(dense);
      expect(s.flops - dense).toBeGreaterThanOrEqual(12 * 2 * 64 * (s.tokens! ** 2 / 3));
    }
    expect(result.flops).toBe(steps[0]!.flops + steps[1]!.flops);
    expect(result.model.isGradientCheckpointing).toBe(true);
  });
});

describe('finetune --dtype', () => {
  const settings = {
    maxSteps: 1,
    batchSize: 3,
    gradientAccumulation: 1,
    learningRate: 1e-3,
    weightDecay: 0,
    schedule: 'constant',
    warmupSteps: 0,
    seed: 1,
    evalSplit: 0,
    maxLength: 32,
  };
  function input(dtype: string) {
    const dir = mkdtempSync(join(tmpdir(), 'lorakit-dtype-'));
    const data = join(dir, 'data.txt');
    writeFileSync(
      data,
      `${Array.from({ length: 6 }, (_, i) => `copy: ${'abcdef'.slice(i)}|x`).join('\n')}\n`,
    );
    return {
      modelDir: join(import.meta.dirname, '..', '..', 'demo', 'base'),
      dataPath: data,
      out: join(dir, 'out'),
      loraConfig: new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'] }),
      settings: { ...settings, dtype },
    };
  }

  it('bfloat16 loads the base model in bfloat16, trains float32 factors and reports bf16 compute', async () => {
    let dtype: string | undefined;
    const result = await finetune({ ...input('bfloat16'), onStart: (info) => (dtype = info.computeDtype) });
    expect(dtype).toBe('bfloat16');
    const params = result.peft.namedParameters();
    expect(params.find(([n]) => n.endsWith('q_proj.base_layer.weight'))![1].dtype).toBe('bfloat16');
    expect(params.find(([n]) => n.includes('lora_A'))![1].dtype).toBe('float32');
    expect(Number.isFinite(result.losses[0]!.loss)).toBe(true);
  });

  it('names the valid dtypes for another one', async () => {
    await expect(finetune(input('int8'))).rejects.toThrow(
      '--dtype must be one of float32, bfloat16, float16, received "int8"',
    );
  });
});
