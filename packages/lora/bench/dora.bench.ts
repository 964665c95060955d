/**
 * One DoRA linear layer (base weight [2048, 2048] with bias, r = 16, input [512, 2048]) on the fastest
 * installed backend (`cpu` when its addon is built, else the JS reference; LORAKIT_BENCH_BACKEND=js forces
 * JS). Rows:
 *
 * - train step: forward in training mode (no dropout) and backward of the mean output, gradients to
 *   A, B and the magnitude (the base weight is frozen);
 * - the same with dropout 0.1 (the base output is recomputed on the dropped input, as PEFT);
 * - eval forward under noGrad;
 * - the weight norm ‖W + s·B·A‖ alone: the composed reference (`doraWeightNormComposed`, builds the
 *   [out, in] sum) against the factored form, with the cached ‖W‖² and without it;
 * - a vanilla LoRA train step on the same layer, the anchor: issue 16 asks a DoRA step of ≤ 1.25 × it.
 *
 * The rows before the change run the previous forward (see `previousForward`) on the same layer. Medians
 * over LORAKIT_BENCH_REPEATS rounds (default 9; 2 on the JS backend). Never fails on timings. Run from
 * packages/lora: `node --conditions=@lorakit/source --import tsx bench/dora.bench.ts`.
 */
import { useFastestBackend } from '@lorakit/bench-tools';
import { type AnyModule, Linear, Module, type ModuleDict } from '@lorakit/nn';
import { Generator, getBackend, noGrad, randn, type Tensor, tidy } from '@lorakit/tensor';
import { getPeftModel, type LoraLinear } from '../src/index.js';
import { doraWeightNorm, doraWeightNormComposed, squaredRowNorm } from '../src/variants/dora-norm.js';

const { backend, label } = await useFastestBackend(import.meta.url);
const repeats = Number(process.env.LORAKIT_BENCH_REPEATS ?? (backend === 'js' ? 2 : 9));
const [OUT, IN, ROWS, R] = [2048, 2048, 512, 16];

class One extends Module<[Tensor], Tensor> {
  constructor() {
    super();
    this.registerModule('proj', new Linear(IN, OUT));
  }
  forward(x: Tensor): Tensor {
    return this.child<AnyModule>('proj').call(x) as Tensor;
  }
}

const generator = new Generator(0);
const x = randn([ROWS, IN], { generator });

function layerOf(useDora: boolean, dropout: number): LoraLinear {
  const peft = getPeftModel(new One(), {
    r: R,
    loraAlpha: 2 * R,
    targetModules: ['proj'],
    useDora,
    loraDropout: dropout,
    initLoraWeights: false,
  });
  const layer = peft.loraLayers()[0]![1] as LoraLinear;
  noGrad(() => {
    const b = layer.loraB('default').weight;
    b.assign(randn(b.shape, { generator, std: 0.02 }));
  });
  return layer;
}

/**
 * The DoRA forward as it was before the factored norm, on the same layer: the base weight read as float32
 * (readBaseWeight), the norm built as ‖W + s·BA‖ (doraWeightNormComposed), PEFT's
 * `result + (k−1)⊙(result − bias) + k⊙s·lora`.
 */
function previousForward(layer: LoraLinear, x: Tensor): Tensor {
  const result = layer.baseLayer.call(x) as Tensor;
  const w = layer.linearWeight();
  const a = layer.loraA('default');
  const b = layer.loraB('default');
  const s = layer.scaling.get('default')!;
  const m = layer.child<ModuleDict>('lora_magnitude_vector').get('default').param('weight')!;
  const k = m.div(doraWeightNormComposed(w, a.weight, b.weight, s));
  const bias = layer.baseLayer.param('bias');
  const baseResult = bias ? result.sub(bias) : result;
  return result.add(k.sub(1).mul(baseResult)).add(k.mul(b.call(a.call(x)).mul(s)));
}

function trainStep(layer: LoraLinear, forward = (t: Tensor) => layer.call(t) as Tensor): () => void {
  return () => {
    layer.train();
    for (const p of layer.parameters()) p.grad = null;
    forward(x).mean().backward();
  };
}

const dora = layerOf(true, 0);
const doraDropout = layerOf(true, 0.1);
const lora = layerOf(false, 0);
const weight = dora.baseLayer.param('weight')!;
const a = dora.loraA('default').weight;
const b = dora.loraB('default').weight;
const s = dora.scaling.get('default')!;
const cached = squaredRowNorm(weight, [1]);

const rows: [string, () => unknown][] = [
  ['DoRA train step, before (composed norm)', trainStep(dora, (t) => previousForward(dora, t))],
  ['DoRA train step (forward + backward)', trainStep(dora)],
  ['DoRA train step, dropout 0.1', trainStep(doraDropout)],
  ['DoRA eval forward, before (composed norm)', () => noGrad(() => previousForward(dora.eval(), x))],
  ['DoRA eval forward (noGrad)', () => noGrad(() => dora.eval().call(x))],
  ['weight norm, composed W + s·BA', () => doraWeightNormComposed(weight, a, b, s)],
  ['weight norm, factored (‖W‖² cached)', () => doraWeightNorm(weight, a, b, s, cached)],
  [
    'weight norm, factored (‖W‖² recomputed)',
    () => doraWeightNorm(weight, a, b, s, squaredRowNorm(weight, [1])),
  ],
  ['LoRA train step (anchor)', trainStep(lora)],
];

console.log(
  `DoRA layer: W [${OUT}, ${IN}] + bias, r=${R}, x [${ROWS}, ${IN}]; ${label} (${getBackend().name})`,
);
// The machine may be shared: rows alternate within each round, and the median over rounds is reported.
// Each run is inside tidy() so that the cpu backend recycles the memory of the previous run.
const samples = rows.map(() => [] as number[]);
for (const [, fn] of rows) tidy(fn);
for (let round = 0; round < repeats; round++) {
  rows.forEach(([, fn], i) => {
    const start = performance.now();
    tidy(fn);
    samples[i]!.push(performance.now() - start);
  });
}
const median = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)]!;
const times = samples.map(median);
const anchor = times[times.length - 1]!;
rows.forEach(([name], i) => {
  const ms = times[i]!;
  console.log(`${name.padEnd(44)} ${ms.toFixed(2).padStart(9)} ms  ${(ms / anchor).toFixed(2)}× LoRA step`);
});
