/**
 * cuda backend benchmark, against PyTorch on the same GPU in the same run:
 *  - bf16 GEMM 8192³ (TFLOP/s), timed with CUDA events;
 *  - elementwise add and exp on 2²⁸ float32 elements (GB/s counting bytes read and written), with the
 *    device-to-device copy bandwidth measured in the same run as the ceiling;
 *  - ops per second for tiny tensors through the whole tensor API (launch, allocator and JS overhead),
 *    against PyTorch eager;
 *  - FlashAttention-2 forward and forward + backward (the backend kernels) for B = 8, H = 16, T = 1024,
 *    D = 128, causal, bf16, against PyTorch's scaled_dot_product_attention.
 * Prints the GPU. Not a test: nothing here fails on a timing. JSON results go to LORAKIT_BENCH_JSON.
 */
import { writeFileSync } from 'node:fs';
import { findReferencePython, printTable, ratio, runPython } from '@lorakit/bench-tools';
import { Generator, getBackend, randn, setDefaultBackend, type Tensor, tidy } from '@lorakit/tensor';
import { cudaUnavailableReason, memoryStats, synchronize, timeOnDevice } from '../src/index.js';

const reason = cudaUnavailableReason();
if (reason !== undefined) {
  console.log(`cuda bench skipped: ${reason}`);
  process.exit(0);
}
setDefaultBackend('cuda');
const backend = getBackend('cuda') as ReturnType<typeof getBackend> & { describe(): string };
console.log(`GPU: ${backend.describe()}`);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median device milliseconds of `fn` over `repeats` runs after `warmup`. */
function deviceMs(fn: () => void, repeats = 10, warmup = 3): number {
  for (let i = 0; i < warmup; i++) fn();
  synchronize();
  return median(Array.from({ length: repeats }, () => timeOnDevice(fn)));
}

const results: Record<string, number | string> = { gpu: backend.describe() };

// ── GEMM ─────────────────────────────────────────────────────────────────────────────────────────────
const N = 8192;
const a = randn([N, N], { dtype: 'bfloat16', generator: new Generator(1) });
const b = randn([N, N], { dtype: 'bfloat16', generator: new Generator(2) });
const gemmMs = deviceMs(() => a.matmul(b).dispose());
results.gemmTflops = (2 * N ** 3) / (gemmMs * 1e-3) / 1e12;
a.dispose();
b.dispose();

// ── elementwise against the copy bandwidth ───────────────────────────────────────────────────────────
const n = 2 ** 28;
const x = randn([n], { generator: new Generator(3) });
const y = randn([n], { generator: new Generator(4) });
const copyMs = deviceMs(() => x.clone().dispose());
const addMs = deviceMs(() => x.add(y).dispose());
const expMs = deviceMs(() => x.exp().dispose());
results.copyGBs = (2 * 4 * n) / (copyMs * 1e-3) / 1e9;
results.addGBs = (3 * 4 * n) / (addMs * 1e-3) / 1e9;
results.expGBs = (2 * 4 * n) / (expMs * 1e-3) / 1e9;
x.dispose();
y.dispose();

// ── tiny ops: wall-clock of the whole API ────────────────────────────────────────────────────────────
const small: Tensor = randn([16], { generator: new Generator(5) });
const tinyOps = 20_000;
const tiny = () =>
  tidy(() => {
    let t = small;
    for (let i = 0; i < tinyOps; i++) t = t.add(small);
    return t;
  });
tiny().dispose();
synchronize();
const started = performance.now();
tiny().dispose();
synchronize();
results.tinyOpsPerSecond = tinyOps / ((performance.now() - started) / 1000);
results.deviceAllocations = memoryStats().deviceAllocations;

// ── flash attention: the backend kernels, forward and forward + backward ────────────────────────────
const [FB, FH, FT, FD] = [8, 16, 1024, 128];
const flashOptions = { scale: 1 / Math.sqrt(FD), causal: true, window: null };
const [fq, fk, fv, fo] = [6, 7, 8, 9].map((seed) =>
  randn([FB, FH, FT, FD], { dtype: 'bfloat16', generator: new Generator(seed) }),
) as [Tensor, Tensor, Tensor, Tensor];
const flashForward = () => backend.flashAttention!(fq.view(), fk.view(), fv.view(), null, flashOptions)!;
const flashBoth = () => {
  const { out, logsumexp } = flashForward();
  const lse = {
    storage: logsumexp,
    dtype: 'float32' as const,
    shape: [FB, FH, FT],
    strides: [FH * FT, FT, 1],
    offset: 0,
  };
  const o = { ...fq.view(), storage: out };
  const grads = backend.flashAttentionBackward!(
    fo.view(),
    fq.view(),
    fk.view(),
    fv.view(),
    o,
    lse,
    null,
    flashOptions,
  );
  for (const storage of [out, logsumexp, grads.dq, grads.dk, grads.dv]) backend.dispose(storage);
};
results.flashForwardMs = deviceMs(() => {
  const { out, logsumexp } = flashForward();
  backend.dispose(out);
  backend.dispose(logsumexp);
});
results.flashBothMs = deviceMs(flashBoth);
// Causal FLOPs: half of 4·B·H·T²·D forward; the backward does 2.5 times the forward's.
const flashFlops = (4 * FB * FH * FT * FT * FD) / 2;
results.flashForwardTflops = flashFlops / (results.flashForwardMs * 1e-3) / 1e12;
results.flashBothTflops = (3.5 * flashFlops) / (results.flashBothMs * 1e-3) / 1e12;
for (const t of [fq, fk, fv, fo]) t.dispose();

// ── PyTorch in the same run ──────────────────────────────────────────────────────────────────────────
const { python, reason: noTorch } = findReferencePython(['torch']);
let torch: Record<string, number> | undefined;
if (python) {
  torch = runPython(
    python,
    `
import json, time, torch
assert torch.cuda.is_available()
def ms(fn, repeats=10, warmup=3):
    for _ in range(warmup): fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); fn(); e.record(); e.synchronize(); times.append(s.elapsed_time(e))
    return sorted(times)[len(times)//2]
N = ${N}
a = torch.randn(N, N, device='cuda', dtype=torch.bfloat16); b = torch.randn(N, N, device='cuda', dtype=torch.bfloat16)
g = ms(lambda: a @ b)
n = ${n}
x = torch.randn(n, device='cuda'); y = torch.randn(n, device='cuda')
c = ms(lambda: x.clone()); ad = ms(lambda: x + y); ex = ms(lambda: torch.exp(x))
s = torch.randn(16, device='cuda')
def tiny():
    t = s
    for _ in range(${tinyOps}): t = t + s
    return t
tiny(); torch.cuda.synchronize()
t0 = time.perf_counter(); tiny(); torch.cuda.synchronize(); el = time.perf_counter() - t0
F = torch.nn.functional.scaled_dot_product_attention
fq, fk, fv, fo = (torch.randn(${FB}, ${FH}, ${FT}, ${FD}, device='cuda', dtype=torch.bfloat16) for _ in range(4))
for t in (fq, fk, fv): t.requires_grad_()
ff = ms(lambda: F(fq, fk, fv, is_causal=True))
def both():
    fq.grad = fk.grad = fv.grad = None
    F(fq, fk, fv, is_causal=True).backward(fo)
fb = ms(both)
flops = 4 * ${FB} * ${FH} * ${FT}**2 * ${FD} / 2
print(json.dumps({"flashForwardMs": ff, "flashBothMs": fb, "flashForwardTflops": flops/(ff*1e-3)/1e12,
  "flashBothTflops": 3.5*flops/(fb*1e-3)/1e12, "gemmTflops": 2*N**3/(g*1e-3)/1e12, "copyGBs": 8*n/(c*1e-3)/1e9, "addGBs": 12*n/(ad*1e-3)/1e9,
  "expGBs": 8*n/(ex*1e-3)/1e9, "tinyOpsPerSecond": ${tinyOps}/el, "device": torch.cuda.get_device_name()}))
`,
  );
} else {
  console.log(`PyTorch anchor skipped: ${noTorch}`);
}

const row = (what: string, key: string, unit: string, higherIsBetter = true) => ({
  what,
  lorakit: `${(results[key] as number).toFixed(1)} ${unit}`,
  pytorch: torch ? `${torch[key]!.toFixed(1)} ${unit}` : '–',
  'lorakit / pytorch': torch ? ratio(results[key] as number, torch[key]) : '–',
  better: higherIsBetter ? 'higher' : 'lower',
});
printTable(`cuda backend on ${backend.describe()}`, [
  row('bf16 GEMM 8192³', 'gemmTflops', 'TFLOP/s'),
  row('device copy (ceiling)', 'copyGBs', 'GB/s'),
  row('float32 add, 2²⁸', 'addGBs', 'GB/s'),
  row('float32 exp, 2²⁸', 'expGBs', 'GB/s'),
  row('tiny ops (add of [16], whole API)', 'tinyOpsPerSecond', 'ops/s'),
  row('flash attention fwd, 8×16×1024×128 causal bf16', 'flashForwardMs', 'ms', false),
  row('flash attention fwd + bwd, same', 'flashBothMs', 'ms', false),
  row('flash attention fwd', 'flashForwardTflops', 'TFLOP/s'),
  row('flash attention fwd + bwd', 'flashBothTflops', 'TFLOP/s'),
]);
console.log(
  `add reaches ${((100 * (results.addGBs as number)) / (results.copyGBs as number)).toFixed(0)}% of the copy bandwidth; cuMemAlloc calls: ${results.deviceAllocations}`,
);
if (process.env.LORAKIT_BENCH_JSON)
  writeFileSync(
    process.env.LORAKIT_BENCH_JSON,
    JSON.stringify({ lorakit: results, pytorch: torch }, null, 2),
  );
