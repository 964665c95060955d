import { join } from 'node:path';
import { getPeftModel, type LoraConfigOptions, saveAdapter } from '@lorakit/lora';
import { loadModel, type ModelOutput } from '@lorakit/models';
import { noGrad, tensor } from '@lorakit/tensor';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { describe, expect, it } from 'vitest';
import { lorakit, temporaryDirectory } from './run-cli.js';

const base = join(peftFixturesDir(), 'llama_qv', 'base');
const ids = () => tensor([[1, 3, 5, 7, 9, 90]], { dtype: 'int64' });

// Adapters that carry more than LoRA factors — trainable tokens, embedding layers saved with the adapter —
// merge into a checkpoint that computes what the adapter does.
describe('lorakit merge of adapters with saved modules', () => {
  it.each<[string, LoraConfigOptions]>([
    ['trainable tokens on embed_tokens', { targetModules: ['q_proj'], trainableTokenIndices: [3, 5] }],
    [
      'trainable tokens on lm_head',
      { targetModules: ['v_proj'], trainableTokenIndices: { lm_head: [1, 90] } },
    ],
    [
      'LoRA on embed_tokens (its base weight saved)',
      { targetModules: ['embed_tokens', 'q_proj'], initLoraWeights: false },
    ],
  ])('%s', async (_label, config) => {
    const peft = getPeftModel(await loadModel(base), config);
    noGrad(() => {
      for (const p of peft.parameters()) if (p.requiresGrad) p.assign(p.add(0.1));
    });
    peft.eval();
    const expected = noGrad(() => (peft.call({ inputIds: ids() }) as ModelOutput).logits);
    const dir = temporaryDirectory();
    await saveAdapter(peft, join(dir, 'adapter'));
    const run = lorakit([
      'merge',
      '--model',
      base,
      '--adapter',
      join(dir, 'adapter'),
      '--out',
      join(dir, 'merged'),
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const merged = await loadModel(join(dir, 'merged'));
    const actual = noGrad(() => merged.call({ inputIds: ids() }).logits);
    expect(actual.sub(expected).abs().max().item()).toBeLessThan(1e-5);
  });
});
