import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTensorFile, type Tensor, tensor, tidy } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { IncrementalPcaError } from '../errors.js';
import { IncrementalPca, svdFlipRows } from './incremental-pca.js';
import { Mt19937, torchRandn } from './torch-randn.js';

// Made by test-data/make_ipca_references.py with PEFT 0.21's IncrementalPCA (torch 2.13, CPU).
const dataDir = join(import.meta.dirname, '..', '..', 'test-data');
const references = readTensorFile(join(dataDir, 'ipca.safetensors'));
const cases = JSON.parse(readFileSync(join(dataDir, 'ipca.json'), 'utf8')).cases as Record<
  string,
  { options: Record<string, number | boolean>; steps: number }
>;

function ref(name: string): Tensor {
  const t = references.get(name);
  if (!t) throw new Error(`reference ${name} missing`);
  return t;
}

function maxAbsError(actual: Tensor, expected: Tensor): number {
  expect(actual.shape).toEqual(expected.shape);
  const a = actual.double().toArray() as Float64Array;
  const e = expected.double().toArray() as Float64Array;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - e[i]!));
  return max;
}

describe('torchRandn', () => {
  it('reproduces torch.randn after manual_seed(42) on the CPU (every path: < 16 values, float32, float64)', () => {
    for (const size of [5, 15, 16, 37, 100]) {
      for (const dtype of ['float32', 'float64'] as const) {
        const expected = ref(`randn.${size}.${dtype}`).toArray() as Float32Array | Float64Array;
        const actual = torchRandn(size, dtype, 42);
        expect(actual).toBeInstanceOf(dtype === 'float32' ? Float32Array : Float64Array);
        // float32: PyTorch's vectorized float32 log/sin/cos vs double-precision ones rounded → last-bit
        // differences (|x| ≤ 4, so 2 ulp ≈ 1e-6); float64 paths agree to a few ulp.
        const tolerance = dtype === 'float32' ? 2e-6 : 1e-14;
        for (let i = 0; i < size; i++)
          expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThanOrEqual(tolerance);
      }
    }
  });

  it('seeds MT19937 like std::mt19937 (10000th output of seed 5489 is 4123659995)', () => {
    const generator = new Mt19937(5489);
    let value = 0;
    for (let i = 0; i < 10000; i++) value = generator.next32();
    expect(value).toBe(4123659995);
  });
});

describe('IncrementalPca against PEFT', () => {
  for (const [name, { options, steps }] of Object.entries(cases)) {
    it(`${name}: every partial_fit step`, () => {
      const ipca = new IncrementalPca({
        nComponents: (options.n_components as number | undefined) ?? null,
        lowrank: Boolean(options.lowrank),
        lowrankQ: (options.lowrank_q as number | undefined) ?? null,
        lowrankNiter: (options.lowrank_niter as number | undefined) ?? 4,
        lowrankSeed: (options.lowrank_seed as number | undefined) ?? 42,
      });
      for (let i = 0; i < steps; i++) {
        ipca.partialFit(ref(`${name}.batch${i}`));
        const prefix = `${name}.step${i}`;
        expect(ipca.nSamplesSeen).toBe(Number(ref(`${prefix}.n_samples_seen`).item()));
        // Means and variances are float64 sums of the same float32 data: equal to rounding.
        expect(maxAbsError(ipca.mean!, ref(`${prefix}.mean`))).toBeLessThan(1e-12);
        expect(maxAbsError(ipca.variance!, ref(`${prefix}.var`))).toBeLessThan(1e-11);
        // The SVDs run in float32 on the first batch (data of magnitude ≤ ~10) and float64 afterwards,
        // by different LAPACK-free algorithms: components and singular values agree to float32 rounding
        // amplified by the singular-value gaps (≥ 0.1 relative here). The sign convention (svd_flip) is
        // deterministic, so signs are compared too.
        expect(maxAbsError(ipca.components!, ref(`${prefix}.components`))).toBeLessThan(2e-5);
        expect(maxAbsError(ipca.singularValues!, ref(`${prefix}.singular_values`))).toBeLessThan(5e-5);
        expect(maxAbsError(ipca.explainedVariance!, ref(`${prefix}.explained_variance`))).toBeLessThan(5e-5);
        expect(
          maxAbsError(ipca.explainedVarianceRatio!, ref(`${prefix}.explained_variance_ratio`)),
        ).toBeLessThan(1e-6);
        const noise = ref(`${prefix}.noise_variance`).item();
        expect(Math.abs(ipca.noiseVariance! - noise)).toBeLessThan(1e-5);
      }
    });
  }
});

describe('IncrementalPca memory', () => {
  it('keeps its state through a tidy around partialFit (the update disposes only its temporaries)', () => {
    const name = 'lowrank';
    const { options } = cases[name]!;
    const ipca = new IncrementalPca({ nComponents: options.n_components as number, lowrank: true });
    for (let i = 0; i < 2; i++) {
      const previous = ipca.components;
      tidy(() => ipca.partialFit(ref(`${name}.batch${i}`)));
      // The previous state is left alone too (EVA's hook compares against it after the update).
      if (previous) expect(previous.toArray()).toHaveLength(previous.size);
      for (const state of [ipca.mean, ipca.variance, ipca.components, ipca.singularValues]) {
        expect(state!.toArray()).toHaveLength(state!.size);
      }
      expect(maxAbsError(ipca.components!, ref(`${name}.step${i}.components`))).toBeLessThan(2e-5);
    }
  });
});

describe('IncrementalPca errors', () => {
  it('names too few features or rows with PEFT messages', () => {
    const x = tensor(new Float32Array(12), { shape: [3, 4] });
    expect(() => new IncrementalPca({ nComponents: 5 }).partialFit(x)).toThrow(
      new IncrementalPcaError(
        '[IncrementalPca] n_components=5 invalid for n_features=4, need more rows than columns for IncrementalPCA processing.',
      ),
    );
    expect(() => new IncrementalPca({ nComponents: 4 }).partialFit(x)).toThrow(
      '[IncrementalPca] n_components=4 must be less or equal to the batch number of samples 3',
    );
  });

  it('rejects a feature-count change and a sketch narrower than the components', () => {
    const ipca = new IncrementalPca({ nComponents: 1 });
    ipca.partialFit(
      tensor([
        [1, 2],
        [3, 5],
        [0, 1],
      ]),
    );
    expect(() => ipca.partialFit(tensor([[1, 2, 3]]))).toThrow(
      '[IncrementalPca] Number of features of the new batch does not match the number of features of the first batch. (first batch: 2, this batch: 3)',
    );
    expect(() => new IncrementalPca({ nComponents: 4, lowrank: true, lowrankQ: 3 })).toThrow(
      '[IncrementalPca] lowrank_q must be greater than or equal to n_components, received lowrank_q=3 and n_components=4.',
    );
    expect(() => new IncrementalPca({ lowrank: true })).toThrow(
      '[IncrementalPca] n_components must be specified when using lowrank mode with lowrank_q=None.',
    );
  });

  it('svd_flip makes the largest-magnitude entry of each row positive (first on ties)', () => {
    const flipped = svdFlipRows(
      tensor(
        [
          [0.1, -0.9, 0.3],
          [0.5, -0.5, 0.2],
        ],
        { dtype: 'float64' },
      ),
    );
    expect(flipped.toList()).toEqual([
      [-0.1, 0.9, -0.3],
      [0.5, -0.5, 0.2],
    ]);
  });
});
