/**
 * The GPU benchmark of "GPU training at full speed": a 0.94 B-parameter Llama (hidden 2048, ffn 5504, 16
 * layers, 16 heads, vocab 32000) with LoRA r = 16 on all seven linear projections, AdamW, batch 8 × 1024
 * (LORAKIT_GPU_BENCH_BATCH / _SEQUENCE scale it down), on the `cuda` backend against PEFT 0.21 on the same
 * GPU in the same run: PEFT eager in bfloat16 and float32, and PEFT under torch.compile (bfloat16) when
 * LORAKIT_GPU_BENCH_COMPILE=1. Reports the median step time, tokens/s and peak memory of each side, the
 * forward with the adapter unmerged and merged, and merge_and_unload. Prints the GPU. Never fails on a
 * timing. LORAKIT_GPU_BENCH_DTYPE picks lorakit's weights dtype (float32 today; bfloat16 when the ops
 * compute in it).
 */
import { writeFileSync } from 'node:fs';
import { findReferencePython, printTable, runPython } from '@lorakit/bench-tools';
import { getPeftModel, LoraConfig } from '@lorakit/lora';
import { createModel } from '@lorakit/models';
import { AdamW } from '@lorakit/nn';
import {
  type Dtype,
  Generator,
  getBackend,
  noGrad,
  randint,
  setDefaultBackend,
  type Tensor,
  tidy,
} from '@lorakit/tensor';

const cuda = (await import('@lorakit/cuda-backend')) as typeof import('@lorakit/cuda-backend');
if (cuda.unavailableReason !== undefined) {
  console.log(`GPU benchmark skipped: ${cuda.unavailableReason}`);
  process.exit(0);
}
setDefaultBackend('cuda');
const device = (getBackend('cuda') as unknown as { describe(): string }).describe();
console.log(`GPU: ${device}`);

const CONFIG = {
  model_type: 'llama',
  vocab_size: 32000,
  hidden_size: 2048,
  intermediate_size: 5504,
  num_hidden_layers: Number(process.env.LORAKIT_GPU_BENCH_LAYERS ?? 16),
  num_attention_heads: 16,
  num_key_value_heads: 16,
  max_position_embeddings: 4096,
  tie_word_embeddings: false,
} as const;
const BATCH = Number(process.env.LORAKIT_GPU_BENCH_BATCH ?? 8);
const SEQUENCE = Number(process.env.LORAKIT_GPU_BENCH_SEQUENCE ?? 1024);
const DTYPE = (process.env.LORAKIT_GPU_BENCH_DTYPE ?? 'float32') as Dtype;
const STEPS = Number(process.env.LORAKIT_GPU_BENCH_STEPS ?? 5);
const TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gib = (bytes: number) => bytes / 2 ** 30;

function timeSteps(step: () => void, count = STEPS): number {
  step();
  step();
  cuda.synchronize();
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    step();
    cuda.synchronize();
    times.push(performance.now() - start);
  }
  return median(times);
}

const generator = new Generator(0);
const inputIds = randint(0, CONFIG.vocab_size, [BATCH, SEQUENCE], { generator });
const CHECKPOINT = process.env.LORAKIT_GPU_BENCH_CHECKPOINT === '1';
const model = createModel(CONFIG, { generator, dtype: DTYPE });
if (CHECKPOINT) model.gradientCheckpointingEnable();
const peft = getPeftModel(model, new LoraConfig({ r: 16, loraAlpha: 32, targetModules: TARGETS }));
const optimizer = new AdamW(
  peft.parameters().filter((p) => p.requiresGrad),
  { lr: 1e-4 },
);
const trainStep = () =>
  tidy(() => {
    peft.train();
    optimizer.zeroGrad();
    (peft.call({ inputIds, labels: inputIds }) as { loss: Tensor }).loss.backward();
    optimizer.step();
  });
cuda.resetPeakMemory();
const ours: Record<string, number> = {};
ours.trainMs = timeSteps(trainStep);
ours.trainPeakGiB = gib(cuda.memoryStats().peakInUse);
const forward = () =>
  tidy(() => noGrad(() => (peft.eval().call({ inputIds }) as { logits: Tensor }).logits.dispose()));
ours.forwardUnmergedMs = timeSteps(forward);
const mergeStart = performance.now();
const merged = peft.mergeAndUnload();
cuda.synchronize();
ours.mergeMs = performance.now() - mergeStart;
ours.forwardMergedMs = timeSteps(() =>
  tidy(() => noGrad(() => (merged.eval().forward({ inputIds }) as { logits: Tensor }).logits.dispose())),
);

console.log(`lorakit (${DTYPE}${CHECKPOINT ? ', checkpointing' : ''}): ${JSON.stringify(ours)}`);
const { python, reason } = findReferencePython(['torch', 'transformers', 'peft']);
const anchors: Record<string, Record<string, number>> = {};
const variants = [
  ['PEFT eager bf16', 'bfloat16', false],
  ['PEFT eager f32', 'float32', false],
  ...(process.env.LORAKIT_GPU_BENCH_COMPILE === '1'
    ? [['PEFT compiled bf16', 'bfloat16', true] as const]
    : []),
] as const;
if (python) {
  for (const [label, dtype, compiled] of variants) {
    anchors[label] = runPython(
      python,
      `
import json, time, torch
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model
cfg = json.loads('${JSON.stringify(CONFIG)}'); cfg.pop("model_type")
torch.manual_seed(0)
dtype = getattr(torch, "${dtype}")
model = LlamaForCausalLM(LlamaConfig(**cfg)).to("cuda", dtype)
if ${CHECKPOINT ? 'True' : 'False'}:
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
peft = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules=${JSON.stringify(TARGETS)}))
opt = torch.optim.AdamW([p for p in peft.parameters() if p.requires_grad], lr=1e-4)
ids = torch.randint(0, ${CONFIG.vocab_size}, (${BATCH}, ${SEQUENCE}), device="cuda")
fwd = torch.compile(peft) if ${compiled ? 'True' : 'False'} else peft
def step():
    opt.zero_grad(set_to_none=True); fwd(input_ids=ids, labels=ids, use_cache=False).loss.backward(); opt.step()
def timed(fn, n=${STEPS}):
    fn(); fn(); torch.cuda.synchronize(); ts = []
    for _ in range(n):
        t = time.perf_counter(); fn(); torch.cuda.synchronize(); ts.append((time.perf_counter() - t) * 1000)
    return sorted(ts)[len(ts)//2]
torch.cuda.reset_peak_memory_stats()
out = {"trainMs": timed(step), "trainPeakGiB": torch.cuda.max_memory_allocated() / 2**30}
peft.eval()
with torch.no_grad():
    out["forwardUnmergedMs"] = timed(lambda: peft(input_ids=ids, use_cache=False))
    torch.cuda.synchronize(); t = time.perf_counter(); m = peft.merge_and_unload(); torch.cuda.synchronize()
    out["mergeMs"] = (time.perf_counter() - t) * 1000
    out["forwardMergedMs"] = timed(lambda: m(input_ids=ids, use_cache=False))
print(json.dumps(out))
`,
    );
  }
} else {
  console.log(`PEFT anchors skipped: ${reason}`);
}

const tokens = BATCH * SEQUENCE;
const measured: [string, Record<string, number | undefined>][] = [
  [`lorakit cuda (${DTYPE})`, ours],
  ...Object.entries(anchors),
];
const rows = measured.map(([side, r]) => ({
  side,
  'train step ms': r.trainMs?.toFixed(1),
  'tokens/s': r.trainMs ? ((tokens / r.trainMs) * 1000).toFixed(0) : '',
  'peak GiB': r.trainPeakGiB?.toFixed(1),
  'forward unmerged ms': r.forwardUnmergedMs?.toFixed(1),
  'forward merged ms': r.forwardMergedMs?.toFixed(1),
  'merge_and_unload ms': r.mergeMs?.toFixed(1),
}));
printTable(
  `Llama ${CONFIG.num_hidden_layers} layers, LoRA r=16 all-linear, batch ${BATCH}×${SEQUENCE}, on ${device}`,
  rows,
);
if (process.env.LORAKIT_BENCH_JSON)
  writeFileSync(process.env.LORAKIT_BENCH_JSON, JSON.stringify({ device, ours, anchors }, null, 2));
