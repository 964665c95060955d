/**
 * Training-step speed against PyTorch measured in the same run: one AdamW step over 1M parameters, and
 * one full training step (forward, cross-entropy, backward, AdamW, zeroGrad) of a small MLP. lorakit
 * runs on the JS reference backend (single-threaded); PyTorch gets LORAKIT_NUM_THREADS threads
 * (default 1) so the ratio compares like with like. Never fails on timings.
 */
import { findReferencePython, printTable, ratio, runPython, timeMedian } from '@lorakit/bench-tools';
import { crossEntropy, Generator, randint, randn, type Tensor } from '@lorakit/tensor';
import { AdamW, LayerNorm, Linear, Module, Parameter } from '../src/index.js';

const threads = process.env.LORAKIT_NUM_THREADS ?? '1';
const ADAM_SHAPES = [
  [512, 512],
  [512, 512],
  [512, 512],
  [512, 512],
];
const MLP = { batch: 64, input: 256, hidden: 512, classes: 10 };

const anchor = findReferencePython(['torch']);
let torchMs: { adamw: number; mlp: number } | undefined;
if (anchor.python) {
  torchMs = runPython<{ adamw: number; mlp: number }>(
    anchor.python,
    `
import json, time, torch
from torch import nn
torch.set_num_threads(${threads})
torch.manual_seed(0)
def median(f, reps, warmup=2):
    for _ in range(warmup): f()
    s = []
    for _ in range(reps):
        t0 = time.perf_counter(); f(); s.append(time.perf_counter() - t0)
    return sorted(s)[len(s) // 2] * 1000
params = [nn.Parameter(torch.randn(*s)) for s in ${JSON.stringify(ADAM_SHAPES)}]
for p in params: p.grad = torch.randn_like(p)
adamw = torch.optim.AdamW(params, lr=1e-3)
out = {"adamw": median(adamw.step, 11)}
m = ${JSON.stringify(MLP)}
model = nn.Sequential(nn.Linear(m["input"], m["hidden"]), nn.GELU(), nn.LayerNorm(m["hidden"]),
                      nn.Linear(m["hidden"], m["classes"]))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
x = torch.randn(m["batch"], m["input"]); y = torch.randint(0, m["classes"], (m["batch"],))
def step():
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward(); opt.step(); opt.zero_grad()
out["mlp"] = median(step, 11)
print(json.dumps(out))`,
    { OMP_NUM_THREADS: threads, MKL_NUM_THREADS: threads },
  );
} else {
  console.log(`PyTorch anchor missing: ${anchor.reason}`);
}

const generator = new Generator(0);
const adamParams = ADAM_SHAPES.map((shape) => {
  const p = new Parameter(randn(shape, { generator }));
  p.grad = randn(shape, { generator });
  return p;
});
const adamw = new AdamW(adamParams, { lr: 1e-3 });
const adamMs = timeMedian(() => adamw.step(), { repeats: 5, warmup: 1 });

class Mlp extends Module {
  constructor() {
    super();
    this.registerModule('fc1', new Linear(MLP.input, MLP.hidden));
    this.registerModule('norm', new LayerNorm(MLP.hidden));
    this.registerModule('fc2', new Linear(MLP.hidden, MLP.classes));
  }
  forward(x: Tensor): Tensor {
    const h = this.child<Linear>('fc1').call(x).gelu();
    return this.child<Linear>('fc2').call(this.child<LayerNorm>('norm').call(h));
  }
}
const model = new Mlp();
const optimizer = new AdamW(model.parameters(), { lr: 1e-3 });
const x = randn([MLP.batch, MLP.input], { generator });
const y = randint(0, MLP.classes, [MLP.batch], { generator, dtype: 'int64' });
const mlpMs = timeMedian(
  () => {
    crossEntropy(model.call(x), y).backward();
    optimizer.step();
    optimizer.zeroGrad();
  },
  { repeats: 5, warmup: 1 },
);

const parameterCount = ADAM_SHAPES.reduce((n, [a, b]) => n + a! * b!, 0);
printTable(`@lorakit/nn (JS backend, 1 thread) vs PyTorch ${threads} thread(s), median ms`, [
  {
    case: `AdamW step, ${(parameterCount / 1e6).toFixed(2)}M params`,
    'lorakit ms': adamMs.toFixed(1),
    'torch ms': torchMs ? torchMs.adamw.toFixed(2) : 'n/a',
    'time ratio (lorakit/torch)': ratio(adamMs, torchMs?.adamw),
  },
  {
    case: `MLP train step ${MLP.batch}×${MLP.input}→${MLP.hidden}→${MLP.classes}`,
    'lorakit ms': mlpMs.toFixed(1),
    'torch ms': torchMs ? torchMs.mlp.toFixed(2) : 'n/a',
    'time ratio (lorakit/torch)': ratio(mlpMs, torchMs?.mlp),
  },
]);
