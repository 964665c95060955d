/**
 * The Llama benchmark model (vocab 4096, hidden 256, intermediate 688, 4 layers, 8 heads; batch 8 × 128):
 * forward, and a full training step (causal-LM loss, backward, AdamW on every parameter), against
 * PyTorch on the CPU with 2 threads measured in the same run. lorakit runs on the default backend — the
 * single-threaded JS reference backend unless a native one is registered — so large ratios are expected
 * there. Never fails on timings.
 */
import {
  findReferencePython,
  LLAMA_BENCH_BATCH,
  LLAMA_BENCH_CONFIG,
  LLAMA_BENCH_SEQUENCE,
  printTable,
  ratio,
  runPython,
  timeMedian,
} from '@lorakit/bench-tools';
import { AdamW } from '@lorakit/nn';
import { Generator, getBackend, noGrad, randint } from '@lorakit/tensor';
import { createModel } from '../src/index.js';

const CONFIG = LLAMA_BENCH_CONFIG;
const BATCH = LLAMA_BENCH_BATCH;
const SEQUENCE = LLAMA_BENCH_SEQUENCE;
const repeats = Number(process.env.LORAKIT_BENCH_REPEATS ?? 3);

const anchor = findReferencePython(['torch', 'transformers']);
let torchMs: { forward: number; train: number } | undefined;
if (anchor.python) {
  torchMs = runPython<{ forward: number; train: number }>(
    anchor.python,
    `
import json, time, torch
from transformers import LlamaConfig, LlamaForCausalLM
torch.set_num_threads(2)
torch.manual_seed(0)
config = LlamaConfig(**{k: v for k, v in json.loads('${JSON.stringify(CONFIG)}').items() if k != "model_type"})
model = LlamaForCausalLM(config).float()
ids = torch.randint(0, ${CONFIG.vocab_size}, (${BATCH}, ${SEQUENCE}))
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
def med(f, reps):
    for _ in range(3): f()  # PyTorch's first runs on new shapes are several times slower
    s = []
    for _ in range(reps):
        t0 = time.perf_counter(); f(); s.append(time.perf_counter() - t0)
    return sorted(s)[len(s)//2] * 1000
def forward():
    with torch.no_grad():
        model.eval(); model(input_ids=ids, use_cache=False)
def train():
    model.train(); opt.zero_grad(set_to_none=True)
    model(input_ids=ids, labels=ids).loss.backward(); opt.step()
print(json.dumps({"forward": med(forward, 7), "train": med(train, 7)}))`,
    { OMP_NUM_THREADS: '2' },
  );
} else {
  console.log(`PyTorch anchor missing: ${anchor.reason}`);
}

const generator = new Generator(0);
const model = createModel(CONFIG, { generator });
const inputIds = randint(0, CONFIG.vocab_size, [BATCH, SEQUENCE], { generator });
const optimizer = new AdamW(model.parameters(), { lr: 1e-4 });

const forwardMs = timeMedian(() => noGrad(() => model.eval().forward({ inputIds }).logits), {
  repeats,
  warmup: 1,
});
const trainMs = timeMedian(
  () => {
    model.train();
    optimizer.zeroGrad();
    model.forward({ inputIds, labels: inputIds }).loss!.backward();
    optimizer.step();
  },
  { repeats, warmup: 1 },
);

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
  `Llama ${model.numParameters().toLocaleString('en')} parameters, batch ${BATCH} × ${SEQUENCE}; lorakit on the "${getBackend().name}" backend, PyTorch CPU with 2 threads`,
  [
    row('forward', forwardMs, torchMs?.forward),
    row('train step (loss, backward, AdamW)', trainMs, torchMs?.train),
  ],
);
