import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getPeftModel, LoraConfig, loadAdapter, saveAdapter } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import { AdamW } from '@lorakit/nn';
import { manualSeed, randint, type Tensor } from '@lorakit/tensor';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { describe, expect, it } from 'vitest';
import './index.js';
import { prepareModelForKbitTraining } from './model/prepare.js';
import { loadQuantizedModel, quantizedLayers } from './model/quantize-model.js';

const base = join(peftFixturesDir(), 'init_loftq_4bit_1iter', 'base');
const TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

function batch(): Tensor {
  manualSeed(17);
  return randint(0, 96, [4, 16], { dtype: 'int64' });
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

describe('QLoRA training on a 4-bit base', () => {
  it('20 AdamW steps of LoRA on the 4-bit tiny Llama lower the loss; only the adapter trains', async () => {
    const rssBefore = process.memoryUsage().rss;
    const model = await loadQuantizedModel(base, { quantize: '4bit', load: loadModel });
    prepareModelForKbitTraining(model);
    const peft = getPeftModel(model, new LoraConfig({ r: 8, loraAlpha: 16, targetModules: TARGETS }));
    peft.train();
    const trainable = peft.parameters().filter((p) => p.requiresGrad);
    expect(trainable.length).toBe(2 * 14);
    const optimizer = new AdamW(trainable, { lr: 1e-2, weightDecay: 0.01 });
    const inputIds = batch();
    const codes = quantizedLayers(model).map(([, l]) =>
      Array.from(l.namedBuffers()[0]![1].toArray() as Int32Array),
    );
    const losses: number[] = [];
    for (let step = 0; step < 20; step++) {
      optimizer.zeroGrad();
      const { loss } = peft.call({ inputIds, labels: inputIds }) as { loss: Tensor };
      losses.push(loss.item());
      loss.backward();
      optimizer.step();
    }
    const peak = process.resourceUsage().maxRSS * 1024;
    console.log(
      `QLoRA 4-bit tiny Llama, 20 AdamW steps: loss ${losses[0]!.toFixed(4)} → ${losses[19]!.toFixed(4)}; ` +
        `peak RSS of the test process ${mib(peak)} (RSS before loading ${mib(rssBefore)})`,
    );
    // ln(96) ≈ 4.56 at the start; a rank-8 adapter on a width-32 model learns the batch slowly but steadily.
    expect(losses[19]!).toBeLessThan(losses[0]! - 0.4);
    for (let i = 5; i < 20; i += 5) expect(losses[i]!).toBeLessThan(losses[i - 5]!);
    // The quantized base is untouched by training.
    for (const [i, [, layer]] of quantizedLayers(model).entries()) {
      expect(Array.from(layer.namedBuffers()[0]![1].toArray() as Int32Array)).toEqual(codes[i]);
    }
    // The trained adapter is a plain PEFT adapter: it loads onto a fresh 4-bit base with the same outputs.
    const dir = mkdtempSync(join(tmpdir(), 'loftq-adapter-'));
    try {
      await saveAdapter(peft, dir);
      const again = loadAdapter(
        await loadQuantizedModel(base, { quantize: '4bit', load: loadModel }),
        dir,
      ).eval();
      peft.eval();
      const logits = (m: { call(x: unknown): unknown }) =>
        (m.call({ inputIds }) as { logits: Tensor }).logits;
      expect(logits(again).sub(logits(peft)).abs().max().item()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('LoftQ-initialized adapters start closer to the float model than default LoRA on the same 4-bit base', async () => {
    const inputIds = batch();
    const lossOf = (m: { call(x: unknown): unknown }) =>
      (m.call({ inputIds, labels: inputIds }) as { loss: Tensor }).loss.item();
    const float = (await loadModel(base)).eval();
    const reference = lossOf(float);
    const options = { r: 16, loraAlpha: 16, targetModules: TARGETS };
    const qlora = getPeftModel(
      await loadQuantizedModel(base, { quantize: '4bit', load: loadModel }),
      options,
    ).eval();
    const loftq = getPeftModel(await loadQuantizedModel(base, { quantize: '4bit', load: loadModel }), {
      ...options,
      initLoraWeights: 'loftq',
      loftqConfig: { loftq_bits: 4, loftq_iter: 5 },
    }).eval();
    const [qloraGap, loftqGap] = [Math.abs(lossOf(qlora) - reference), Math.abs(lossOf(loftq) - reference)];
    console.log(
      `|loss − float loss| at init: default LoRA ${qloraGap.toExponential(2)}, LoftQ ${loftqGap.toExponential(2)}`,
    );
    expect(loftqGap).toBeLessThan(qloraGap);
  });
});
