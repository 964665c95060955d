/**
 * @lorakit/nn's training building blocks at the sizes of the Llama benchmark model (LLAMA_BENCH_CONFIG
 * from @lorakit/bench-tools: vocab 4096, hidden 256, intermediate 688, 4 layers; activations of
 * 8 × 128 tokens) against their PyTorch equivalents, measured in turns in the same run:
 *
 * - AdamW step over every parameter of the model (full fine-tuning: 5.3M parameters in 39 tensors), and
 *   over the LoRA r = 8 q_proj/v_proj factors (16 small tensors: per-tensor overhead);
 * - the causal-LM loss (shift, cross-entropy over the 4096-token vocabulary) forward + backward;
 * - forward + backward (input and weight gradients, a fixed upstream gradient) of Linear 256→688 (an MLP
 *   projection), Linear 256→4096 (lm_head), Embedding 4096×256 and RMSNorm 256.
 *
 * lorakit runs on the fastest backend installed (`cpu` from @lorakit/cpu-backend when its addon is built,
 * else the JS reference backend; the first line says which); PyTorch gets the same threads
 * (LORAKIT_BENCH_THREADS, default 2). Medians over LORAKIT_BENCH_ROUNDS interleaved rounds of
 * LORAKIT_BENCH_REPEATS runs (default 3 and 5; 1 and 3 on the JS backend). Never fails on timings.
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
import { Generator, getBackend, randint, randn, type Tensor } from '@lorakit/tensor';
import { AdamW, causalLmLoss, Embedding, Linear, type Module, Parameter, RMSNorm } from '../src/index.js';

const { backend, label: backendLabel } = await useFastestBackend(import.meta.url);
const threads = Number(process.env.LORAKIT_BENCH_THREADS ?? 2);
// On the JS backend an lm_head step takes seconds: fewer runs there.
const rounds = Number(process.env.LORAKIT_BENCH_ROUNDS ?? (backend === 'js' ? 1 : 3));
const repeats = Number(process.env.LORAKIT_BENCH_REPEATS ?? (backend === 'js' ? 3 : 5));
const { vocab_size: vocab, hidden_size: hidden, intermediate_size: intermediate } = LLAMA_BENCH_CONFIG;
const BATCH = LLAMA_BENCH_BATCH;
const SEQUENCE = LLAMA_BENCH_SEQUENCE;

/** The parameter shapes of LlamaForCausalLM with the benchmark config (untied lm_head, no biases). */
const MODEL_SHAPES: number[][] = [
  [vocab, hidden],
  ...Array.from({ length: LLAMA_BENCH_CONFIG.num_hidden_layers }, () => [
    [hidden, hidden],
    [hidden, hidden],
    [hidden, hidden],
    [hidden, hidden],
    [intermediate, hidden],
    [intermediate, hidden],
    [hidden, intermediate],
    [hidden],
    [hidden],
  ]).flat(),
  [hidden],
  [vocab, hidden],
];
/** LoRA r = 8 on q_proj and v_proj of every layer: lora_A [8, hidden] and lora_B [hidden, 8]. */
const LORA_SHAPES: number[][] = Array.from({ length: 2 * LLAMA_BENCH_CONFIG.num_hidden_layers }, () => [
  [8, hidden],
  [hidden, 8],
]).flat();

type Task =
  | 'adamw-model'
  | 'adamw-lora'
  | 'causal-lm-loss'
  | 'linear-mlp'
  | 'linear-head'
  | 'embedding'
  | 'rmsnorm';
const count = (shapes: number[][]) => shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
const LABELS: Record<Task, string> = {
  'adamw-model': `AdamW step, whole model (${(count(MODEL_SHAPES) / 1e6).toFixed(2)}M params, ${MODEL_SHAPES.length} tensors)`,
  'adamw-lora': `AdamW step, LoRA r=8 q,v (${count(LORA_SHAPES).toLocaleString('en')} params, ${LORA_SHAPES.length} tensors)`,
  'causal-lm-loss': `causal-LM loss fwd+bwd, logits ${BATCH}×${SEQUENCE}×${vocab}`,
  'linear-mlp': `Linear ${hidden}→${intermediate} fwd+bwd, ${BATCH}×${SEQUENCE} tokens`,
  'linear-head': `Linear ${hidden}→${vocab} (lm_head) fwd+bwd`,
  embedding: `Embedding ${vocab}×${hidden} fwd+bwd`,
  rmsnorm: `RMSNorm ${hidden} fwd+bwd`,
};
const TASKS = Object.keys(LABELS) as Task[];

const anchorScript = `
import json, sys, time, torch
from torch import nn
torch.set_num_threads(${threads})
torch.manual_seed(0)
B, T, V, H, I = ${BATCH}, ${SEQUENCE}, ${vocab}, ${hidden}, ${intermediate}

def adamw(shapes):
    params = [nn.Parameter(torch.randn(*s)) for s in shapes]
    for p in params: p.grad = torch.randn_like(p)
    return torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01).step

def layer_step(layer, x):
    g = torch.randn_like(layer(x))
    def step():
        if x.requires_grad: x.grad = None
        layer.zero_grad(set_to_none=True)
        layer(x).backward(g)
    return step

logits = torch.randn(B, T, V, requires_grad=True)
labels = torch.randint(0, V, (B, T))
def causal_lm_loss():  # transformers' ForCausalLMLoss
    logits.grad = None
    shifted = nn.functional.pad(labels, (0, 1), value=-100)[..., 1:]
    loss = nn.functional.cross_entropy(logits.view(-1, V).float(), shifted.reshape(-1), ignore_index=-100)
    loss.backward()

x = torch.randn(B, T, H, requires_grad=True)
tasks = {
    "adamw-model": adamw(${JSON.stringify(MODEL_SHAPES)}),
    "adamw-lora": adamw(${JSON.stringify(LORA_SHAPES)}),
    "causal-lm-loss": causal_lm_loss,
    "linear-mlp": layer_step(nn.Linear(H, I, bias=False), x),
    "linear-head": layer_step(nn.Linear(H, V, bias=False), x),
    "embedding": layer_step(nn.Embedding(V, H), torch.randint(0, V, (B, T))),
    "rmsnorm": layer_step(nn.RMSNorm(H, eps=1e-6), x),
}
${ANCHOR_TASK_LOOP}`;

const generator = new Generator(0);
function adamwStep(shapes: number[][]): () => void {
  const params = shapes.map((shape) => {
    const p = new Parameter(randn(shape, { generator }));
    p.grad = randn(shape, { generator });
    return p;
  });
  const optimizer = new AdamW(params, { lr: 1e-3, weightDecay: 0.01 });
  return () => optimizer.step();
}
function layerStep(layer: Module<[Tensor], Tensor>, x: Tensor): () => void {
  const upstream = randn(layer.call(x).shape, { generator });
  return () => {
    if (x.requiresGrad) x.grad = null;
    for (const p of layer.parameters()) p.grad = null;
    layer.call(x).backward(upstream);
  };
}
const logits = randn([BATCH, SEQUENCE, vocab], { generator }).setRequiresGrad();
const labels = randint(0, vocab, [BATCH, SEQUENCE], { generator, dtype: 'int64' });
const x = randn([BATCH, SEQUENCE, hidden], { generator }).setRequiresGrad();
const ours: Record<Task, () => void> = {
  'adamw-model': adamwStep(MODEL_SHAPES),
  'adamw-lora': adamwStep(LORA_SHAPES),
  'causal-lm-loss': () => {
    logits.grad = null;
    causalLmLoss(logits, labels).backward();
  },
  'linear-mlp': layerStep(new Linear(hidden, intermediate, { bias: false }), x),
  'linear-head': layerStep(new Linear(hidden, vocab, { bias: false }), x),
  embedding: layerStep(new Embedding(vocab, hidden), randint(0, vocab, [BATCH, SEQUENCE], { generator })),
  rmsnorm: layerStep(new RMSNorm(hidden, 1e-6), x),
};
for (const task of TASKS) for (let i = 0; i < 2; i++) ours[task]();

const { python, reason } = findReferencePython(['torch']);
const anchor = python ? new PythonAnchor(python, anchorScript, { threads }) : undefined;
await anchor?.next();
if (!anchor) console.log(`PyTorch anchor missing: ${reason}`);

const times = await interleave({
  tasks: TASKS,
  ours: (task) => {
    const start = performance.now();
    ours[task]();
    return performance.now() - start;
  },
  anchor,
  rounds,
  repeats,
});
anchor?.close();

printTable(
  `@lorakit/nn on the "${getBackend().name}" backend (${backendLabel}) vs PyTorch CPU (${threads} threads), Llama benchmark sizes, median ms of ${rounds} interleaved rounds × ${repeats}`,
  TASKS.map((task) => {
    const { ours: a, anchor: b } = times.get(task)!;
    return {
      case: LABELS[task],
      'lorakit ms': a.toFixed(2),
      'torch ms': b === undefined ? 'n/a' : b.toFixed(2),
      'time ratio (lorakit/torch)': ratio(a, b),
    };
  }),
);
