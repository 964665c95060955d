/**
 * DoRA on one layer on the GPU: the 0.94 B Llama's largest projection (W [5504, 2048] in bfloat16, no bias,
 * r = 16, x [8192, 2048] bfloat16 requiring grad, as inside a model). Compares, on `cuda`:
 *
 * - lorakit's DoRA step (forward, backward of the mean output) against the previous forward (the norm built
 *   as ‖W + s·BA‖ from a float32 copy of W, PEFT's `result + (k−1)⊙base + k⊙s·lora`) and a vanilla LoRA
 *   step: device ms, host ms, peak bytes over the step;
 * - values: output and gradients (x, A, B, m — m's depends directly on the norm) of the two DoRA
 *   forwards, within bfloat16 rounding;
 * - copies of a W-sized tensor (a cast of W to float32 would be one) and host reads in a warm DoRA forward
 *   (expected 0) and step (expected no more than the LoRA step's).
 *
 * Exits 1 when values disagree, or on a W-sized copy or host read DoRA adds; timings never fail it. Needs a
 * GPU; says why not and exits 0 without one. Run: `node --conditions=@lorakit/source --import tsx
 * src/dora-gpu.check.ts` in benchmarks/ (LORAKIT_DORA_CHECK_TOKENS changes the 8192 rows).
 */

import { getPeftModel, type LoraLinear } from '@lorakit/lora';
import { type AnyModule, Linear, Module, type ModuleDict, Parameter } from '@lorakit/nn';
import { getBackend, manualSeed, noGrad, randn, setDefaultBackend, type Tensor, tidy } from '@lorakit/tensor';

const cuda = (await import('@lorakit/cuda-backend')) as typeof import('@lorakit/cuda-backend');
if (cuda.unavailableReason !== undefined) {
  console.log(`DoRA GPU check skipped: ${cuda.unavailableReason}`);
  process.exit(0);
}
setDefaultBackend('cuda');
const backend = getBackend('cuda') as ReturnType<typeof getBackend> & { describe(): string };
console.log(`GPU: ${backend.describe()}`);

const [IN, OUT, R] = [2048, 5504, 16];
const TOKENS = Number(process.env.LORAKIT_DORA_CHECK_TOKENS ?? 8192);

class Holder extends Module<[Tensor], Tensor> {
  constructor(target: AnyModule) {
    super();
    this.registerModule('t', target);
  }
  forward(x: Tensor): Tensor {
    return this.child<AnyModule>('t').call(x) as Tensor;
  }
}

const magnitude = (layer: LoraLinear) =>
  layer.child<ModuleDict>('lora_magnitude_vector').get('default').param('weight')!;

function layerOf(useDora: boolean): LoraLinear {
  manualSeed(0);
  const linear = new Linear(IN, OUT, { bias: false });
  linear.registerParameter('weight', new Parameter(linear.param('weight')!.detach().cast('bfloat16'), false));
  const peft = getPeftModel(new Holder(linear), {
    r: R,
    loraAlpha: 2 * R,
    targetModules: ['t'],
    useDora,
    initLoraWeights: false,
  });
  const layer = peft.loraLayers()[0]![1] as LoraLinear;
  noGrad(() => {
    const b = layer.loraB('default').weight;
    b.assign(randn(b.shape, { std: 0.02 }));
    if (useDora) magnitude(layer).assign(magnitude(layer).mul(randn([OUT], { std: 0.1 }).add(1)));
  });
  return layer.train();
}

/** The DoRA forward before the factored norm: W copied to float32, ‖W + s·BA‖ built, PEFT's formula. */
function previousForward(layer: LoraLinear, x: Tensor): Tensor {
  const result = layer.baseLayer.call(x) as Tensor;
  const a = layer.loraA('default');
  const b = layer.loraB('default');
  const s = layer.scaling.get('default')!;
  const w = layer.linearWeight();
  const norm = noGrad(() => w.add(b.weight.matmul(a.weight).mul(s)).square().sum(1).sqrt());
  const k = magnitude(layer).div(norm);
  const lora = b.call(a.call(x.cast(a.weight.dtype))).mul(s);
  return result.add(k.sub(1).mul(result)).add(k.mul(lora)).cast(result.dtype);
}

const dora = layerOf(true);
const lora = layerOf(false);
const x = randn([TOKENS, IN]).cast('bfloat16').setRequiresGrad();

function step(layer: LoraLinear, forward: (t: Tensor) => Tensor): { y: Tensor; grads: Tensor[] } {
  const params = [x, ...layer.parameters().filter((p) => p.requiresGrad)];
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
  return tidy(() => {
    const y = forward(x);
    y.float().mean().backward();
    return { y: y.detach(), grads: params.map((p) => p.grad!) };
  });
}

const ours = (t: Tensor) => dora.call(t) as Tensor;
const previous = (t: Tensor) => previousForward(dora, t);
const rows: [string, () => unknown][] = [
  ['DoRA step, previous forward', () => step(dora, previous).y.dispose()],
  ['DoRA step', () => step(dora, ours).y.dispose()],
  ['LoRA step (anchor)', () => step(lora, (t) => lora.call(t) as Tensor).y.dispose()],
];
for (const [, fn] of rows) fn();
cuda.synchronize();
const median = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)]!;
const results = rows.map(([name, fn]) => {
  const device: number[] = [];
  const host: number[] = [];
  for (let i = 0; i < 7; i++) {
    const start = performance.now();
    device.push(cuda.timeOnDevice(() => fn()));
    cuda.synchronize();
    host.push(performance.now() - start);
  }
  cuda.resetPeakMemory();
  const before = cuda.memoryStats().inUse;
  fn();
  cuda.synchronize();
  const peak = cuda.memoryStats().peakInUse - before;
  return { name, device: median(device), host: median(host), peakMiB: peak / 2 ** 20 };
});
const anchor = results[results.length - 1]!.device;
console.log(`one layer: W [${OUT}, ${IN}] bf16, r=${R}, x [${TOKENS}, ${IN}] bf16`);
for (const r of results) {
  console.log(
    `${r.name.padEnd(30)} device ${r.device.toFixed(2).padStart(8)} ms  host ${r.host.toFixed(2).padStart(8)} ms  peak +${r.peakMiB.toFixed(0).padStart(6)} MiB  ${(r.device / anchor).toFixed(2)}× LoRA`,
  );
}

let failed = false;
const relative = (a: Tensor, b: Tensor) =>
  noGrad(() => a.float().sub(b.float()).abs().max().item() / b.float().abs().max().item());
const check = (label: string, error: number, tolerance: number) => {
  const ok = error <= tolerance;
  if (!ok) failed = true;
  console.log(
    `${ok ? 'ok  ' : 'FAIL'} ${label.padEnd(44)} relative error ${error.toExponential(2)} (≤ ${tolerance})`,
  );
};
const first = step(dora, ours);
// The next step frees this one's gradients: keep copies.
const a = { y: first.y, grads: first.grads.map((g) => g.clone()) };
const b = step(dora, previous);
check('output, factored vs previous forward', relative(a.y, b.y), 2 ** -6);
a.grads.forEach((g, i) => {
  check(`gradient ${['x', 'A', 'B', 'm'][i] ?? i}`, relative(g, b.grads[i]!), 2 ** -6);
});

/** Copies of a W-sized tensor (a cast of W would be one) and host reads while `fn` runs. */
function countDuring(fn: () => void): { wSized: number; toHost: number } {
  const counts = { wSized: 0, toHost: 0 };
  const { copy, toHost } = backend;
  backend.copy = (view, dtype) => {
    if (view.shape.reduce((n, d) => n * d, 1) === IN * OUT) counts.wSized++;
    return copy.call(backend, view, dtype);
  };
  backend.toHost = (view) => {
    counts.toHost++;
    return toHost.call(backend, view);
  };
  try {
    fn();
    cuda.synchronize();
  } finally {
    backend.copy = copy;
    backend.toHost = toHost;
  }
  return counts;
}
const forwardCounts = countDuring(() => noGrad(() => dora.call(x)).dispose());
const doraCounts = countDuring(() => step(dora, ours).y.dispose());
const loraCounts = countDuring(() => step(lora, (t) => lora.call(t) as Tensor).y.dispose());
const clean =
  forwardCounts.wSized === 0 &&
  forwardCounts.toHost === 0 &&
  doraCounts.wSized <= loraCounts.wSized &&
  doraCounts.toHost <= loraCounts.toHost;
if (!clean) failed = true;
console.log(
  `${clean ? 'ok  ' : 'FAIL'} W-sized copies / host reads: DoRA forward ${forwardCounts.wSized}/${forwardCounts.toHost}, DoRA step ${doraCounts.wSized}/${doraCounts.toHost}, LoRA step ${loraCounts.wSized}/${loraCounts.toHost}`,
);
process.exit(failed ? 1 : 0);
