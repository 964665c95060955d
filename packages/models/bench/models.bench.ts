/**
 * The Llama benchmark model (LLAMA_BENCH_CONFIG from @lorakit/bench-tools: vocab 4096, hidden 256,
 * intermediate 688, 4 layers, 8 heads; batch 8 × 128): forward, and a full training step (causal-LM loss,
 * backward, AdamW on every parameter), against transformers' LlamaForCausalLM on PyTorch CPU, measured in
 * turns in the same run (a persistent PyTorch process; medians of LORAKIT_BENCH_ROUNDS rounds of
 * LORAKIT_BENCH_REPEATS steps, default 3 and 3, on the JS backend 1 and 1). lorakit runs on the fastest
 * backend installed (`cpu` from @lorakit/cpu-backend when its addon is built, else the single-threaded JS
 * reference backend, where large ratios are expected; the first line says which); PyTorch gets the same
 * threads (LORAKIT_BENCH_THREADS, default 2). Never fails on timings.
 */
import {
  ANCHOR_TASK_LOOP,
  findReferencePython,
  interleave,
  LLAMA_BENCH_BATCH,
  LLAMA_BENCH_CONFIG,
  LLAMA_BENCH_SEQUENCE,
  PythonAnchor,
  printTable,
  ratio,
  useFastestBackend,
} from '@lorakit/bench-tools';
import { AdamW } from '@lorakit/nn';
import { Generator, getBackend, noGrad, randint } from '@lorakit/tensor';
import { createModel } from '../src/index.js';

const { backend, label: backendLabel } = await useFastestBackend(import.meta.url);
const CONFIG = LLAMA_BENCH_CONFIG;
const BATCH = LLAMA_BENCH_BATCH;
const SEQUENCE = LLAMA_BENCH_SEQUENCE;
const threads = Number(process.env.LORAKIT_BENCH_THREADS ?? 2);
// A JS-backend train step takes seconds: one round of one run is enough there.
const rounds = Number(process.env.LORAKIT_BENCH_ROUNDS ?? (backend === 'js' ? 1 : 3));
const repeats = Number(process.env.LORAKIT_BENCH_REPEATS ?? (backend === 'js' ? 1 : 3));

const anchorScript = `
import json, sys, time, torch
from transformers import LlamaConfig, LlamaForCausalLM
torch.set_num_threads(${threads})
torch.manual_seed(0)
config = LlamaConfig(**{k: v for k, v in json.loads('${JSON.stringify(CONFIG)}').items() if k != "model_type"})
model = LlamaForCausalLM(config).float()
ids = torch.randint(0, ${CONFIG.vocab_size}, (${BATCH}, ${SEQUENCE}))
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
def forward():
    with torch.no_grad():
        model.eval(); model(input_ids=ids, use_cache=False)
def train():
    model.train(); opt.zero_grad(set_to_none=True)
    model(input_ids=ids, labels=ids, use_cache=False).loss.backward(); opt.step()
tasks = {"forward": forward, "train": train}
${ANCHOR_TASK_LOOP}`;

const generator = new Generator(0);
const model = createModel(CONFIG, { generator });
const inputIds = randint(0, CONFIG.vocab_size, [BATCH, SEQUENCE], { generator });
const optimizer = new AdamW(model.parameters(), { lr: 1e-4 });
const steps = {
  forward: () => noGrad(() => model.eval().forward({ inputIds }).logits),
  train: () => {
    model.train();
    optimizer.zeroGrad();
    model.forward({ inputIds, labels: inputIds }).loss!.backward();
    optimizer.step();
  },
};
for (const step of Object.values(steps)) step();

const anchor = findReferencePython(['torch', 'transformers']);
const torch = anchor.python ? new PythonAnchor(anchor.python, anchorScript, { threads }) : undefined;
await torch?.next();
if (!torch) console.log(`PyTorch anchor missing: ${anchor.reason}`);
const times = await interleave({
  tasks: ['forward', 'train'] as const,
  ours: (task) => {
    const start = performance.now();
    steps[task]();
    return performance.now() - start;
  },
  anchor: torch,
  rounds,
  repeats,
});
torch?.close();

const tokens = BATCH * SEQUENCE;
const row = (name: string, ours: number, theirs: number | undefined) => ({
  step: name,
  'lorakit ms': ours.toFixed(0),
  'lorakit tokens/s': ((tokens / ours) * 1000).toFixed(0),
  'torch ms': theirs === undefined ? 'n/a' : theirs.toFixed(1),
  'torch tokens/s': theirs === undefined ? 'n/a' : ((tokens / theirs) * 1000).toFixed(0),
  'time ratio (lorakit/torch)': ratio(ours, theirs),
});
printTable(
  `Llama ${model.numParameters().toLocaleString('en')} parameters, batch ${BATCH} × ${SEQUENCE}; lorakit on the "${getBackend().name}" backend (${backendLabel}), PyTorch CPU with ${threads} threads; median ms of ${rounds} interleaved rounds × ${repeats}`,
  [
    row('forward', times.get('forward')!.ours, times.get('forward')!.anchor),
    row('train step (loss, backward, AdamW)', times.get('train')!.ours, times.get('train')!.anchor),
  ],
);
