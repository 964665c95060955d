/**
 * Pretrains the demo's base model — the one shipped in demo/base — from scratch with lorakit itself:
 * a 2-layer Llama learns the `copy` task of the demo's task language (src/demo/task-language.ts) by
 * full-parameter training with AdamW and a cosine schedule. Every seed is fixed, so a run reproduces
 * the shipped model.safetensors byte for byte (the JSON files as committed are Biome-formatted).
 *
 *   pnpm --filter @lorakit/cli pretrain-demo [out-dir]     (default: apps/cli/demo/base)
 *
 * About two minutes on two cores with the JavaScript backend; it ends by printing the copy accuracy on
 * the held-out words (100%) and the shift accuracy (0%: the task the demo teaches with LoRA).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel, saveModel, Tokenizer } from '@lorakit/models';
import { AdamW, createLrScheduler, train } from '@lorakit/nn';
import { manualSeed, setDefaultBackend } from '@lorakit/tensor';
import { exactMatch } from '../src/demo/accuracy.js';
import { charTokenizerConfig, charTokenizerJson } from '../src/demo/char-tokenizer.js';
import {
  BASE_CONFIG,
  example,
  heldOutWords,
  SEEDS,
  solve,
  trainingWords,
} from '../src/demo/task-language.js';
import { type Batch, batchesOf } from '../src/training/batches.js';
import { tokenizeExamples } from '../src/training/dataset.js';

const STEPS = 200;
const BATCH_SIZE = 32;
const LEARNING_RATE = 3e-3;
const MODEL_SEED = 0;

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, 'base'));
setDefaultBackend('js');

const tokenizer = new Tokenizer(charTokenizerJson(), charTokenizerConfig());
const words = trainingWords(STEPS * BATCH_SIZE, SEEDS.pretrain);
const examples = tokenizeExamples(
  words.map((w) => example('copy', w)),
  tokenizer,
  { maxLength: BASE_CONFIG.max_position_embeddings },
);
const batches: Batch[] = batchesOf(examples, BATCH_SIZE, tokenizer.padTokenId ?? 0);

manualSeed(MODEL_SEED);
const model = createModel({ ...BASE_CONFIG });
const optimizer = new AdamW(model.parameters(), { lr: LEARNING_RATE, weightDecay: 0 });
const scheduler = createLrScheduler('cosine', optimizer, { numWarmupSteps: 20, numTrainingSteps: STEPS });
console.log(
  `pretraining ${model.numParameters().toLocaleString('en-US')} parameters on "copy" for ${STEPS} steps`,
);
const started = performance.now();
await train<Batch>({
  model,
  data: batches,
  optimizer,
  scheduler,
  maxGradNorm: 1,
  computeLoss: (batch) => model.call(batch).loss!,
  callbacks: {
    onStep: ({ step, loss }) => {
      if (step % 25 === 0) {
        const seconds = ((performance.now() - started) / 1000).toFixed(0);
        console.log(`step ${step}/${STEPS}  loss ${loss.toFixed(4)}  ${seconds} s`);
      }
    },
  },
});

const heldOut = heldOutWords();
for (const task of ['copy', 'shift'] as const) {
  const { accuracy } = exactMatch(
    model,
    tokenizer,
    heldOut.map((w) => example(task, w).prompt),
    heldOut.map((w) => solve(task, w)),
  );
  console.log(`held-out ${task} accuracy: ${(accuracy * 100).toFixed(0)}%`);
}

mkdirSync(out, { recursive: true });
await saveModel(model, out);
writeFileSync(join(out, 'tokenizer.json'), `${JSON.stringify(charTokenizerJson(), null, 2)}\n`);
writeFileSync(join(out, 'tokenizer_config.json'), `${JSON.stringify(charTokenizerConfig(), null, 2)}\n`);
writeFileSync(
  join(out, 'generation_config.json'),
  `${JSON.stringify({ bos_token_id: 1, eos_token_id: 2, pad_token_id: 0 }, null, 2)}\n`,
);
console.log(`saved ${out} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
