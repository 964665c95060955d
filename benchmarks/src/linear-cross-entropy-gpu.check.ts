/**
 * GPU check of @lorakit/tensor's `linearCrossEntropy` at the Qwen2.5-0.5B loss shape (8 × 1024 rows,
 * vocabulary 151,936, hidden 896, bfloat16, lm_head frozen as under LoRA): the loss and dHidden against
 * the composed `crossEntropy(linear(h, W).float(), t)`, and for each the median ms of forward + backward
 * and the peak bytes above what was in use before. A check, not a test: it prints and never fails a
 * build on a timing; it exits 1 only when the two disagree.
 *
 *   cd benchmarks && node --conditions=@lorakit/source --import tsx src/linear-cross-entropy-gpu.check.ts
 *
 * ROWS, VOCAB, FEATURES, STEPS and CHUNK_ROWS override the shape, the timed steps (default 5) and the
 * chunk size (default: linearCrossEntropy's); LCE_BACKEND=js runs a small shape without a GPU.
 */
import {
  crossEntropy,
  Generator,
  linear,
  linearCrossEntropy,
  randint,
  randn,
  setDefaultBackend,
  type Tensor,
  tidy,
  where,
} from '@lorakit/tensor';

const onJs = process.env.LCE_BACKEND === 'js';
const cuda = onJs
  ? null
  : ((await import('@lorakit/cuda-backend')) as typeof import('@lorakit/cuda-backend'));
if (cuda && cuda.unavailableReason !== undefined) {
  console.log(`linearCrossEntropy GPU check skipped: ${cuda.unavailableReason}`);
  process.exit(0);
}
setDefaultBackend(onJs ? 'js' : 'cuda');

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const rows = env('ROWS', onJs ? 64 : 8 * 1024);
const vocab = env('VOCAB', onJs ? 1000 : 151_936);
const features = env('FEATURES', onJs ? 32 : 896);
const steps = env('STEPS', 5);
const chunkRows = process.env.CHUNK_ROWS ? Number(process.env.CHUNK_ROWS) : undefined;
const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(3);

const generator = new Generator(0);
const hidden = randn([rows, features], { generator }).cast('bfloat16').setRequiresGrad(true).keep();
const weight = randn([vocab, features], { generator, std: 0.02 }).cast('bfloat16').keep();
// A tenth of the targets ignored, as padding or prompt tokens would be.
const drawn = randint(0, vocab, [rows], { generator });
const target = where(randint(0, 10, [rows], { generator }).eq(0), -100, drawn).keep();

type Loss = (h: Tensor) => Tensor;
const composed: Loss = (h) => crossEntropy(linear(h, weight).float(), target);
const chunked: Loss = (h) => linearCrossEntropy(h, weight, target, chunkRows ? { chunkRows } : {});

function measure(
  name: string,
  loss: Loss,
): { value: number; grad: ArrayLike<number>; ms: number; peak: number } {
  const times: number[] = [];
  let value = Number.NaN;
  let grad: ArrayLike<number> = [];
  let peak = 0;
  for (let i = 0; i < steps + 1; i++) {
    hidden.grad?.dispose();
    hidden.grad = null;
    cuda?.synchronize();
    const before = cuda?.memoryStats().inUse ?? 0;
    cuda?.resetPeakMemory();
    const start = performance.now();
    value = tidy(() => {
      const l = loss(hidden);
      l.backward();
      return l.item();
    });
    times.push(performance.now() - start);
    if (cuda) peak = Math.max(peak, cuda.memoryStats().peakInUse - before);
    if (i === steps) grad = hidden.grad!.float().toArray() as Float32Array;
  }
  const ms = times.slice(1).sort((a, b) => a - b)[Math.floor(steps / 2)]!;
  console.log(
    `${name}: loss ${value.toFixed(6)}, ${ms.toFixed(2)} ms (median of ${steps}), peak +${gib(peak)} GiB`,
  );
  return { value, grad, ms, peak };
}

console.log(
  `rows ${rows}, vocab ${vocab}, hidden ${features}, bfloat16, chunkRows ${chunkRows ?? 'default'}`,
);
const ours = measure('linearCrossEntropy', chunked);
const reference = measure('crossEntropy(linear().float())', composed);
let worst = 0;
let scale = 0;
for (let i = 0; i < ours.grad.length; i++) {
  worst = Math.max(worst, Math.abs(ours.grad[i]! - reference.grad[i]!));
  scale = Math.max(scale, Math.abs(reference.grad[i]!));
}
const lossError = Math.abs(ours.value - reference.value) / Math.abs(reference.value);
console.log(
  `loss relative error ${lossError.toExponential(2)}, dHidden max error ${(worst / scale).toExponential(2)} of its scale; time ${(ours.ms / reference.ms).toFixed(2)}×, peak ${(ours.peak / Math.max(reference.peak, 1)).toFixed(3)}× the composed path`,
);
if (!(lossError < 1e-3 && worst <= 2e-2 * scale)) {
  console.log('FAILED: the chunked loss disagrees with the composed one');
  process.exit(1);
}
