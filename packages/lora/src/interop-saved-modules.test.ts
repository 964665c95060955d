import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findReferencePython } from '@lorakit/bench-tools';
import { loadModel } from '@lorakit/models';
import { noGrad, randn, type Tensor, writeTensorFile } from '@lorakit/tensor';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, readAll } from '../test/helpers.js';
import { getPeftModel, LoraConfig, loadAdapter, saveAdapter } from './index.js';
import type { PeftModel } from './model/peft-model.js';

// What PEFT saves beside the LoRA factors — embedding layers, modules_to_save copies with bias="all",
// trainable tokens — round-trips between lorakit and Python PEFT in both directions with equal logits.

const reference = findReferencePython(['torch', 'transformers', 'peft']);
const fixtures = peftFixturesDir();
const testDir = join(import.meta.dirname, '..', 'test');

interface Case {
  /** 'llama', 'llama-tied' (tie_word_embeddings, no lm_head.weight) or 'bert'. */
  readonly base: 'llama' | 'llama-tied' | 'bert';
  /** LoraConfig in PEFT's (file) names. */
  readonly config: Record<string, unknown>;
  /** Change the base's embeddings that target_modules names too (a resized or trained vocabulary). */
  readonly perturbEmbeddings?: boolean;
}

const CASES: Record<string, Case> = {
  'embed_tokens target, untied': {
    base: 'llama',
    config: { r: 2, target_modules: ['embed_tokens', 'q_proj'], init_lora_weights: false },
    perturbEmbeddings: true,
  },
  'embed_tokens target, tied': {
    base: 'llama-tied',
    config: { r: 2, target_modules: ['embed_tokens', 'q_proj'], init_lora_weights: false },
    perturbEmbeddings: true,
  },
  'lm_head target, tied': {
    base: 'llama-tied',
    config: { r: 2, target_modules: ['lm_head', 'q_proj'], init_lora_weights: false },
    perturbEmbeddings: true,
  },
  'lm_head target, untied': {
    base: 'llama',
    config: { r: 2, target_modules: ['lm_head', 'v_proj'], init_lora_weights: false },
    perturbEmbeddings: true,
  },
  'trainable tokens (list), untied': {
    base: 'llama',
    config: {
      r: 2,
      target_modules: ['q_proj'],
      trainable_token_indices: [3, 5, 7],
      init_lora_weights: false,
    },
  },
  'trainable tokens (list), tied': {
    base: 'llama-tied',
    config: {
      r: 2,
      target_modules: ['q_proj'],
      trainable_token_indices: [3, 5, 7],
      init_lora_weights: false,
    },
  },
  'trainable tokens per layer (embed_tokens and lm_head), untied': {
    base: 'llama',
    config: {
      r: 2,
      target_modules: ['v_proj'],
      trainable_token_indices: { embed_tokens: [3, 5], lm_head: [1, 2, 90] },
      init_lora_weights: false,
    },
  },
  'classifier modules_to_save with bias="all"': {
    base: 'bert',
    config: {
      r: 2,
      target_modules: ['query', 'value'],
      task_type: 'SEQ_CLS',
      bias: 'all',
      modules_to_save: ['classifier'],
      init_lora_weights: false,
    },
  },
};

let work: string;
const bases: Record<Case['base'], string> = { llama: '', 'llama-tied': '', bert: '' };
const inputs = new Map<Case['base'], Map<string, Tensor>>();

function fixtureInputs(fixture: string): Map<string, Tensor> {
  const io = readAll(join(fixtures, fixture, 'io.safetensors'));
  return new Map([...io].filter(([k]) => k === 'input_ids' || k === 'attention_mask'));
}

async function tiedLlama(dir: string): Promise<void> {
  const source = join(fixtures, 'llama_qv', 'base');
  mkdirSync(dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(source, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, tie_word_embeddings: true }));
  copyFileSync(join(source, 'generation_config.json'), join(dir, 'generation_config.json'));
  const weights = readAll(join(source, 'model.safetensors'));
  weights.delete('lm_head.weight');
  await writeTensorFile(join(dir, 'model.safetensors'), weights);
}

function logits(peft: PeftModel, input: Map<string, Tensor>): Tensor {
  return (
    peft.call({ inputIds: input.get('input_ids'), attentionMask: input.get('attention_mask') }) as {
      logits: Tensor;
    }
  ).logits;
}

function python(script: string, args: string[]): void {
  const run = spawnSync(reference.python!, [join(testDir, script), ...args], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${script} failed:\n${run.stderr}`);
}

describe.skipIf(!reference.python)(
  `interop of saved modules with Python PEFT${reference.python ? '' : ` (skipped: ${reference.reason})`}`,
  () => {
    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), 'lorakit-interop-saved-'));
      bases.llama = join(fixtures, 'llama_qv', 'base');
      bases['llama-tied'] = join(work, 'llama-tied');
      await tiedLlama(bases['llama-tied']);
      bases.bert = join(fixtures, 'bert_seqcls_modules_to_save', 'base');
      inputs.set('llama', fixtureInputs('llama_qv'));
      inputs.set('llama-tied', fixtureInputs('llama_qv'));
      inputs.set('bert', fixtureInputs('bert_seqcls_modules_to_save'));
    });

    it.each(Object.keys(CASES))('%s: PEFT saves, lorakit loads, logits agree within 1e-4', async (label) => {
      const { base, config, perturbEmbeddings } = CASES[label]!;
      const out = mkdtempSync(join(work, 'peft-'));
      const input = inputs.get(base)!;
      const inputsPath = join(out, 'inputs.safetensors');
      await writeTensorFile(inputsPath, input);
      writeFileSync(
        join(out, 'config.json'),
        JSON.stringify({ ...config, perturb_embeddings: perturbEmbeddings ?? false }),
      );
      python('peft_save_adapter.py', [bases[base], join(out, 'config.json'), inputsPath, out]);
      const theirs = readAll(join(out, 'logits.safetensors')).get('logits')!;
      const peft = loadAdapter(await loadModel(bases[base]), join(out, 'adapter'));
      expectClose(logits(peft, input), theirs, 1e-4, 1e-4, `${label} logits`);
    });

    it.each(Object.keys(CASES))('%s: lorakit saves, PEFT loads, logits agree within 1e-4', async (label) => {
      const { base, config, perturbEmbeddings } = CASES[label]!;
      const input = inputs.get(base)!;
      const model = await loadModel(bases[base]);
      const peft = getPeftModel(model, LoraConfig.fromPeftDict(config));
      const targets = (config.target_modules as string[]).filter(
        (t) => t === 'embed_tokens' || t === 'lm_head',
      );
      const targeted = new RegExp(`(${targets.join('|') || '^$'})\\.base_layer\\.weight$`);
      noGrad(() => {
        for (const [name, p] of peft.namedParameters({ removeDuplicate: false })) {
          const embedding = targeted.test(name);
          if (p.requiresGrad || (perturbEmbeddings && embedding))
            p.assign(p.add(randn(p.shape, { std: 0.05 })).add(0.02));
        }
      });
      peft.eval();
      const ours = logits(peft, input);
      const dir = mkdtempSync(join(work, 'lorakit-'));
      await saveAdapter(peft, dir);
      const inputsPath = join(dir, '..', `${label.length}-inputs.safetensors`);
      await writeTensorFile(inputsPath, input);
      const outPath = join(dir, '..', `${label.length}-logits.safetensors`);
      python('peft_logits.py', [bases[base], dir, inputsPath, outPath]);
      expectClose(ours, readAll(outPath).get('logits')!, 1e-4, 1e-4, `${label} logits in PEFT`);
      const again = loadAdapter(await loadModel(bases[base]), dir);
      expectClose(logits(again, input), ours, 1e-6, 1e-6, `${label} reloaded`);
      expect(peft.peftConfig.size).toBe(1);
    });
  },
);
