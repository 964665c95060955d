/**
 * The Llama benchmark model (LLAMA_BENCH_CONFIG from @lorakit/bench-tools: vocab 4096, hidden 256,
 * intermediate 688, 4 layers, 8 heads; batch 8 × 128, as in packages/models/bench) on the `cpu` backend against PyTorch CPU in the same run:
 *
 * - the full model: forward (no grad) and a training step (causal-LM loss, backward, AdamW on every
 *   parameter), against transformers' LlamaForCausalLM;
 * - LoRA r = 8 (alpha 16) on q_proj/v_proj: forward and a training step (AdamW on the adapter only),
 *   against PEFT on the same transformers model.
 *
 * Both sides use the same number of threads (LORAKIT_BENCH_THREADS, default 2; torch.set_num_threads).
 * The machine may be shared, so the two alternate: each round times a few steps of lorakit, pauses, then
 * the same steps in a persistent PyTorch process; tables give medians over all rounds. Never fails on
 * timings. LORAKIT_BENCH_QUICK=1 runs fewer rounds.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  findReferencePython,
  LLAMA_BENCH_BATCH,
  LLAMA_BENCH_CONFIG,
  LLAMA_BENCH_SEQUENCE,
  printTable,
} from '@lorakit/bench-tools';
import { cpuFeatures, nativeAvailable, nativeLoadError, setNumThreads } from '@lorakit/cpu-backend';
import { getPeftModel, LoraConfig } from '@lorakit/lora';
import { createModel } from '@lorakit/models';
import { AdamW } from '@lorakit/nn';
import { Generator, getBackend, noGrad, randint, type Tensor } from '@lorakit/tensor';

const CONFIG = LLAMA_BENCH_CONFIG;
const BATCH = LLAMA_BENCH_BATCH;
const SEQUENCE = LLAMA_BENCH_SEQUENCE;
const quick = process.env.LORAKIT_BENCH_QUICK === '1';
const threads = Number(process.env.LORAKIT_BENCH_THREADS ?? 2);
const rounds = Number(process.env.LORAKIT_BENCH_ROUNDS ?? (quick ? 2 : 5));
const repeats = 3;

type Task = 'forward' | 'train' | 'lora_forward' | 'lora_train';
const TASKS: Task[] = ['forward', 'train', 'lora_forward', 'lora_train'];
const LABELS: Record<Task, string> = {
  forward: 'full model: forward',
  train: 'full model: train step (loss, backward, AdamW)',
  lora_forward: 'LoRA r=8 q/v: forward',
  lora_train: 'LoRA r=8 q/v: train step (loss, backward, AdamW)',
};

/** A persistent PyTorch process: one task name per line in, one JSON list of milliseconds per line out. */
const anchorScript = `
import json, sys, time, torch
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model
torch.set_num_threads(${threads})
torch.manual_seed(0)
config = LlamaConfig(**{k: v for k, v in json.loads('${JSON.stringify(CONFIG)}').items() if k != "model_type"})
ids = torch.randint(0, ${CONFIG.vocab_size}, (${BATCH}, ${SEQUENCE}))
full = LlamaForCausalLM(config).float()
full_opt = torch.optim.AdamW(full.parameters(), lr=1e-4)
lora = get_peft_model(LlamaForCausalLM(config).float(),
                      LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], lora_dropout=0.0))
lora_opt = torch.optim.AdamW([p for p in lora.parameters() if p.requires_grad], lr=1e-4)
def forward(model):
    model.eval()
    with torch.no_grad():
        model(input_ids=ids, use_cache=False)
def train(model, opt):
    model.train(); opt.zero_grad(set_to_none=True)
    model(input_ids=ids, labels=ids, use_cache=False).loss.backward(); opt.step()
tasks = {"forward": lambda: forward(full), "train": lambda: train(full, full_opt),
         "lora_forward": lambda: forward(lora), "lora_train": lambda: train(lora, lora_opt)}
for f in tasks.values():
    for _ in range(3): f()  # PyTorch's first runs on new shapes are several times slower
print("ready", flush=True)
for line in sys.stdin:
    name, reps = line.split()
    tasks[name]()
    times = []
    for _ in range(int(reps)):
        t = time.perf_counter(); tasks[name](); times.append((time.perf_counter() - t) * 1000)
    print(json.dumps(times), flush=True)
`;

class Anchor {
  private readonly child;
  private readonly lines: AsyncIterator<string>;

  constructor(python: string) {
    const n = String(threads);
    this.child = spawn(python, ['-c', anchorScript], {
      env: { ...process.env, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async ready(): Promise<void> {
    const first = await this.lines.next();
    if (first.done || first.value !== 'ready') throw new Error('the PyTorch anchor did not start');
  }

  async time(task: Task, count: number): Promise<number[]> {
    this.child.stdin.write(`${task} ${count}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error('the PyTorch anchor exited');
    return JSON.parse(next.value) as number[];
  }

  close(): void {
    this.child.stdin.end();
  }
}

if (!nativeAvailable) {
  console.log(`Llama benchmark skipped: native addon not available (${nativeLoadError})`);
  process.exit(0);
}
setNumThreads(threads);

const generator = new Generator(0);
const inputIds = randint(0, CONFIG.vocab_size, [BATCH, SEQUENCE], { generator });
const full = createModel(CONFIG, { generator });
const fullOptimizer = new AdamW(full.parameters(), { lr: 1e-4 });
const peft = getPeftModel(
  createModel(CONFIG, { generator }),
  new LoraConfig({ r: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'] }),
);
const loraOptimizer = new AdamW(
  peft.parameters().filter((p) => p.requiresGrad),
  { lr: 1e-4 },
);

const ours: Record<Task, () => void> = {
  forward: () => noGrad(() => full.eval().forward({ inputIds }).logits),
  train: () => {
    full.train();
    fullOptimizer.zeroGrad();
    full.forward({ inputIds, labels: inputIds }).loss!.backward();
    fullOptimizer.step();
  },
  lora_forward: () => noGrad(() => (peft.eval().call({ inputIds }) as { logits: Tensor }).logits),
  lora_train: () => {
    peft.train();
    loraOptimizer.zeroGrad();
    (peft.call({ inputIds, labels: inputIds }) as { loss: Tensor }).loss.backward();
    loraOptimizer.step();
  },
};

function timeOurs(task: Task, count: number): number[] {
  ours[task]();
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    ours[task]();
    times.push(performance.now() - start);
  }
  return times;
}

const { python, reason } = findReferencePython(['torch', 'transformers', 'peft']);
const anchor = python ? new Anchor(python) : undefined;
await anchor?.ready();
console.log(
  `Llama ${full.numParameters().toLocaleString('en')} parameters, batch ${BATCH} × ${SEQUENCE}; lorakit on "${getBackend().name}" (${cpuFeatures().kernel}, ${threads} threads); anchor: ${python ? `PyTorch CPU via ${python}, ${threads} threads` : `none (${reason})`}`,
);
for (const task of TASKS) for (let i = 0; i < 2; i++) ours[task]();

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const settle = () => sleep(200);
const mine = new Map<Task, number[]>(TASKS.map((t) => [t, []]));
const theirs = new Map<Task, number[]>(TASKS.map((t) => [t, []]));
for (let round = 0; round < rounds; round++) {
  for (const task of TASKS) {
    await settle();
    mine.get(task)!.push(...timeOurs(task, repeats));
    if (anchor) {
      await settle();
      theirs.get(task)!.push(...(await anchor.time(task, repeats)));
    }
  }
}
anchor?.close();

const tokens = BATCH * SEQUENCE;
printTable(
  `Llama benchmark model, lorakit "cpu" backend vs PyTorch CPU (${threads} threads each), median of ${rounds} interleaved rounds × ${repeats} steps`,
  TASKS.map((task) => {
    const a = median(mine.get(task)!);
    const b = anchor ? median(theirs.get(task)!) : undefined;
    return {
      step: LABELS[task],
      'lorakit ms': a.toFixed(1),
      'torch ms': b === undefined ? 'n/a' : b.toFixed(1),
      'lorakit tokens/s': ((tokens / a) * 1000).toFixed(0),
      'time ratio (lorakit/torch)': b === undefined ? 'n/a' : `${(a / b).toFixed(2)}×`,
    };
  }),
);
