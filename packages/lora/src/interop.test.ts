import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findReferencePython } from '@lorakit/bench-tools';
import { loadModel } from '@lorakit/models';
import { writeSafetensors } from '@lorakit/safetensors';
import { manualSeed, type Tensor } from '@lorakit/tensor';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { describe, expect, it } from 'vitest';
import { expectClose, readAll } from '../test/helpers.js';
import { getPeftModel, type LoraConfigOptions, loadAdapter, saveAdapter } from './index.js';

const reference = findReferencePython(['torch', 'transformers', 'peft']);
const fixtures = peftFixturesDir();
const script = join(import.meta.dirname, '..', 'test', 'peft_logits.py');

async function peftLogits(baseDir: string, adapterDir: string, inputs: Map<string, Tensor>): Promise<Tensor> {
  const work = mkdtempSync(join(tmpdir(), 'lorakit-interop-'));
  const inputsPath = join(work, 'inputs.safetensors');
  await writeSafetensors(
    inputsPath,
    [...inputs].map(([name, t]) => ({
      name,
      dtype: t.dtype === 'int64' ? 'I64' : 'F32',
      shape: t.shape,
      data: t.toArray() as Float32Array,
    })),
  );
  const out = join(work, 'out.safetensors');
  const run = spawnSync(reference.python!, [script, baseDir, adapterDir, inputsPath, out], {
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`PEFT failed to load the adapter:\n${run.stderr}`);
  return readAll(out).get('logits')!;
}

interface InteropCase {
  readonly fixture: string;
  readonly config: LoraConfigOptions;
  readonly adapterName?: string;
}

const CASES: Record<string, InteropCase> = {
  'Llama q/v with rsLoRA and rank_pattern': {
    fixture: 'llama_qv',
    config: {
      r: 4,
      loraAlpha: 8,
      targetModules: ['q_proj', 'v_proj'],
      initLoraWeights: false,
      useRslora: true,
      rankPattern: { v_proj: 2 },
    },
  },
  'Llama all-linear DoRA': {
    fixture: 'llama_dora',
    config: { r: 4, targetModules: 'all-linear', useDora: true, initLoraWeights: false },
  },
  'Llama embedding + lm_head targets': {
    fixture: 'llama_qv',
    config: { r: 2, targetModules: ['embed_tokens', 'lm_head'], initLoraWeights: false },
  },
  'Llama non-default adapter name (subfolder)': {
    fixture: 'llama_qv',
    config: { r: 3, targetModules: ['o_proj', 'up_proj'], initLoraWeights: false, loraBias: true },
    adapterName: 'other',
  },
  'GPT-2 Conv1D (fan_in_fan_out)': {
    fixture: 'gpt2_conv1d',
    config: { r: 4, targetModules: ['c_attn', 'c_proj', 'c_fc'], initLoraWeights: false },
  },
  'BERT sequence classification with modules_to_save and bias=lora_only': {
    fixture: 'bert_seqcls_modules_to_save',
    config: {
      r: 4,
      targetModules: ['query', 'value'],
      taskType: 'SEQ_CLS',
      bias: 'lora_only',
      initLoraWeights: false,
    },
  },
};

describe.skipIf(!reference.python)(
  `interop with Python PEFT${reference.python ? '' : ` (skipped: ${reference.reason})`}`,
  () => {
    it.each(Object.keys(CASES))('%s: lorakit saves, PEFT loads, logits agree within 1e-4', async (label) => {
      const { fixture, config, adapterName } = CASES[label]!;
      manualSeed(label.length);
      const baseDir = join(fixtures, fixture, 'base');
      const io = readAll(join(fixtures, fixture, 'io.safetensors'));
      const inputs = new Map([...io].filter(([k]) => k === 'input_ids' || k === 'attention_mask'));
      const peft = getPeftModel(await loadModel(baseDir), config, { adapterName: adapterName ?? 'default' });
      if (adapterName) peft.setAdapter(adapterName);
      // Make trained-looking weights: perturb everything trainable so every saved tensor matters.
      for (const p of peft.parameters()) if (p.requiresGrad) p.assign(p.add(0.05));
      peft.eval();
      const ours = (
        peft.call({ inputIds: io.get('input_ids'), attentionMask: io.get('attention_mask') }) as {
          logits: Tensor;
        }
      ).logits;
      const dir = mkdtempSync(join(tmpdir(), 'lorakit-adapter-'));
      await saveAdapter(peft, dir);
      const folder = adapterName ? join(dir, adapterName) : dir;
      expect(readdirSync(folder).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
      const theirs = await peftLogits(baseDir, folder, inputs);
      expectClose(ours, theirs, 1e-4, 1e-4, `${label} logits`);
      // And back: the saved adapter loads in lorakit with the same logits.
      const again = loadAdapter(await loadModel(baseDir), folder);
      const reloaded = (
        again.call({ inputIds: io.get('input_ids'), attentionMask: io.get('attention_mask') }) as {
          logits: Tensor;
        }
      ).logits;
      expectClose(reloaded, ours, 1e-6, 1e-6, `${label} reloaded`);
    });
  },
);
