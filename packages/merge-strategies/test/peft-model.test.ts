import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PeftModel, saveAdapter } from '@lorakit/lora';
import { Generator, type Tensor } from '@lorakit/tensor';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { BUILTIN_MERGE_STRATEGIES, combineAdapterFiles } from '../src/index.js';
import { addRandomAdapter, TinyNet } from './tiny-model.js';

/** a, c on lin/emb/conv (r 4 and 6); b on lin and other (r 4); d a regex target; e rsLoRA. */
function model(): PeftModel {
  const peft = addRandomAdapter(
    new TinyNet(),
    'a',
    { r: 4, loraAlpha: 8, targetModules: ['lin', 'emb', 'conv'] },
    1,
  );
  addRandomAdapter(peft, 'b', { r: 4, loraAlpha: 16, targetModules: ['lin', 'other'] }, 2);
  addRandomAdapter(peft, 'c', { r: 6, loraAlpha: 6, targetModules: ['lin', 'emb', 'conv'] }, 3);
  addRandomAdapter(peft, 'd', { r: 4, loraAlpha: 4, targetModules: '.*lin' }, 4);
  addRandomAdapter(peft, 'e', { r: 4, loraAlpha: 8, targetModules: ['lin', 'conv'], useRslora: true }, 5);
  return peft;
}

function delta(peft: PeftModel, path: string, adapter: string): Tensor {
  const layer = new Map(peft.loraLayers()).get(path)!;
  return layer.deltaWeight(adapter);
}

function expectClose(actual: Tensor, expected: Tensor, tolerance: number, label: string): void {
  expect(actual.shape, label).toEqual(expected.shape);
  const a = actual.toArray() as Float32Array;
  const e = expected.toArray() as Float32Array;
  const scale = Math.max(1, ...Array.from(e, Math.abs));
  for (const [i, v] of a.entries()) {
    expect(Math.abs(v - e[i]!), `${label} element ${i}`).toBeLessThanOrEqual(tolerance * scale);
  }
}

/** Σ over the adapters present in a layer of wᵢ·ΔWᵢ. */
function weightedDelta(peft: PeftModel, path: string, adapters: string[], weights: number[]): Tensor {
  const layer = new Map(peft.loraLayers()).get(path)!;
  return adapters
    .map((adapter, i) =>
      layer.hasAdapter(adapter) ? layer.deltaWeight(adapter).mul(weights[i]!) : undefined,
    )
    .filter((t): t is Tensor => t !== undefined)
    .reduce((sum, t) => sum.add(t));
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('registration', () => {
  it("registers PEFT's eleven combination types; a second registration of ours is a no-op", async () => {
    const { registeredMergeStrategies } = await import('@lorakit/lora');
    const { registerBuiltinMergeStrategies } = await import('../src/index.js');
    const names = BUILTIN_MERGE_STRATEGIES.map((s) => s.name);
    expect(names).toEqual([
      'linear',
      'ties',
      'dare_linear',
      'dare_ties',
      'magnitude_prune',
      'cat',
      'svd',
      'ties_svd',
      'dare_linear_svd',
      'dare_ties_svd',
      'magnitude_prune_svd',
    ]);
    expect(registeredMergeStrategies()).toEqual(expect.arrayContaining(names));
    expect(() => registerBuiltinMergeStrategies()).not.toThrow();
  });
});

describe('addWeightedAdapter on every layer kind', () => {
  it('cat is exact on linear, embedding and conv; layers an adapter lacks use the others (target union)', () => {
    const peft = model();
    const config = peft.addWeightedAdapter(['a', 'b'], [0.7, -0.3], 'm', 'cat')!;
    expect(config.r).toBe(8);
    expect([...(config.targetModules as Set<string>)].sort()).toEqual(['conv', 'emb', 'lin', 'other']);
    for (const path of ['lin', 'emb', 'conv', 'other']) {
      expectClose(delta(peft, path, 'm'), weightedDelta(peft, path, ['a', 'b'], [0.7, -0.3]), 1e-5, path);
    }
  });

  it('svd with enough rank is exact on every kind (embedding transposed, conv flattened)', () => {
    const peft = model();
    expect(peft.addWeightedAdapter(['a', 'c'], [0.7, -0.5], 'm', 'svd', { svdRank: 10 })?.r).toBe(10);
    for (const path of ['lin', 'emb', 'conv']) {
      expectClose(delta(peft, path, 'm'), weightedDelta(peft, path, ['a', 'c'], [0.7, -0.5]), 1e-5, path);
    }
  });

  it('svd truncates to the best rank-k approximation, all singular values on B, A orthonormal', () => {
    const peft = model();
    peft.addWeightedAdapter(['a', 'c'], [0.7, -0.5], 'm', 'svd', { svdRank: 3 });
    const layer = new Map(peft.loraLayers()).get('lin')!;
    const { a } = layer.factorParameters('m');
    const target = weightedDelta(peft, 'lin', ['a', 'c'], [0.7, -0.5]);
    const { u, s, vh } = target.svd();
    const best = u
      .narrow(1, 0, 3)
      .mul(s.narrow(0, 0, 3).unsqueeze(0))
      .matmul(vh.narrow(0, 0, 3));
    expectClose(delta(peft, 'lin', 'm'), best, 1e-5, 'rank-3 truncation');
    const gram = a.matmul(a.T).toArray() as Float32Array;
    for (const [i, v] of gram.entries()) expect(Math.abs(v - (i % 4 === 0 ? 1 : 0))).toBeLessThan(1e-5);
  });

  it('linear folds sign·√|w·s| into A and √|w·s| into B (cross terms, as PEFT)', () => {
    const peft = model();
    peft.addWeightedAdapter(['a', 'b'], [0.7, -0.5], 'm', 'linear');
    const layer = new Map(peft.loraLayers()).get('lin')!;
    const c = [0.7 * 2, -0.5 * 4];
    const [fa, fb] = [layer.factorParameters('a'), layer.factorParameters('b')];
    const expectedA = fa.a.mul(Math.sqrt(Math.abs(c[0]!))).add(fb.a.mul(-Math.sqrt(Math.abs(c[1]!))));
    const expectedB = fa.b.mul(Math.sqrt(Math.abs(c[0]!))).add(fb.b.mul(Math.sqrt(Math.abs(c[1]!))));
    expectClose(layer.factorParameters('m').a, expectedA, 1e-6, 'A');
    expectClose(layer.factorParameters('m').b, expectedB, 1e-6, 'B');
    // Only layers with one source are exact.
    expectClose(delta(peft, 'other', 'm'), delta(peft, 'other', 'b').mul(-0.5), 1e-5, 'other');
  });

  it('one adapter is forced to linear: w·ΔW exactly, whatever the requested type', () => {
    const peft = model();
    expect(peft.addWeightedAdapter(['c'], [0.5], 'm', 'svd')?.r).toBe(6);
    for (const path of ['lin', 'emb', 'conv'])
      expectClose(delta(peft, path, 'm'), delta(peft, path, 'c').mul(0.5), 1e-6, path);
  });

  it('rsLoRA sources: the merged scaling is 1, so cat is still exactly Σ wᵢΔWᵢ', () => {
    const peft = model();
    const config = peft.addWeightedAdapter(['a', 'e'], [1, 1], 'm', 'cat')!;
    expect(config.useRslora).toBe(false);
    for (const path of ['lin', 'conv'])
      expectClose(delta(peft, path, 'm'), weightedDelta(peft, path, ['a', 'e'], [1, 1]), 1e-5, path);
  });

  it('an existing name returns undefined and changes nothing', () => {
    const peft = model();
    const before = delta(peft, 'lin', 'a').toArray();
    expect(peft.addWeightedAdapter(['b', 'c'], [1, 1], 'a', 'cat')).toBeUndefined();
    expect(delta(peft, 'lin', 'a').toArray()).toEqual(before);
  });

  it('DARE types are reproducible from options.generator and differ across seeds', () => {
    const peft = model();
    for (const type of ['dare_linear', 'dare_ties', 'dare_linear_svd', 'dare_ties_svd']) {
      const options = (seed: number) => ({ density: 0.5, generator: new Generator(seed) });
      peft.addWeightedAdapter(['a', 'b'], [0.7, 0.5], `${type}_1`, type, options(11));
      peft.addWeightedAdapter(['a', 'b'], [0.7, 0.5], `${type}_2`, type, options(11));
      peft.addWeightedAdapter(['a', 'b'], [0.7, 0.5], `${type}_3`, type, options(12));
      const one = delta(peft, 'lin', `${type}_1`).toArray();
      expect(delta(peft, 'lin', `${type}_2`).toArray(), type).toEqual(one);
      expect(delta(peft, 'lin', `${type}_3`).toArray(), type).not.toEqual(one);
    }
  });

  it('density 1 keeps everything: dare_linear_svd equals svd and ties_svd keeps TIES’s election (warning once)', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const peft = model();
    peft.addWeightedAdapter(['a', 'c'], [0.7, 0.5], 'svd', 'svd');
    peft.addWeightedAdapter(['a', 'c'], [0.7, 0.5], 'dare', 'dare_linear_svd', { density: 1 });
    expectClose(delta(peft, 'lin', 'dare'), delta(peft, 'lin', 'svd'), 1e-5, 'dare_linear_svd at density 1');
    expect(warn).toHaveBeenCalledWith(
      'The density 1 is greater than or equal to 1, no pruning will be performed.',
      { type: 'LorakitWarning' },
    );
  });

  it("svdMethod 'randomized' approximates the exact ties_svd; rank above min(out, in) is zero-padded", () => {
    const peft = model();
    peft.addWeightedAdapter(['a', 'c'], [0.7, 0.5], 'exact', 'ties_svd', { density: 0.5 });
    peft.addWeightedAdapter(['a', 'c'], [0.7, 0.5], 'randomized', 'ties_svd', {
      density: 0.5,
      svdMethod: 'randomized',
      svdOversample: 20,
      generator: new Generator(1),
    } as never);
    expectClose(delta(peft, 'lin', 'randomized'), delta(peft, 'lin', 'exact'), 1e-4, 'randomized');
    // conv's delta is [6, 27]: rank 10 keeps its 6 components, the other rows of A stay 0.
    peft.addWeightedAdapter(['a', 'c'], [0.7, 0.5], 'wide', 'svd', { svdRank: 10 });
    const { a } = new Map(peft.loraLayers()).get('conv')!.factorParameters('wide');
    expect(a.narrow(0, 6, 4).abs().max().item()).toBe(0);
  });
});

describe('preconditions and messages', () => {
  const peft = model();
  it('an unknown combination type lists the registered ones', () => {
    expect(() => peft.addWeightedAdapter(['a', 'b'], [1, 1], 'x1', 'average')).toThrow(
      `[addWeightedAdapter] Invalid combination_type: average; registered combination types: ${BUILTIN_MERGE_STRATEGIES.map((s) => s.name).join(', ')}`,
    );
  });
  it('unequal ranks for the non-SVD family', () => {
    for (const type of ['linear', 'ties', 'dare_linear', 'dare_ties', 'magnitude_prune']) {
      expect(() => peft.addWeightedAdapter(['a', 'c'], [1, 1], `x_${type}`, type, { density: 0.5 })).toThrow(
        `[addWeightedAdapter] All adapters must have the same r value when using combination_type ${type}; ranks: a=4, c=6`,
      );
    }
  });
  it('adapters mixing list and regex target_modules', () => {
    expect(() => peft.addWeightedAdapter(['a', 'd'], [1, 1], 'x2', 'cat')).toThrow(
      '[addWeightedAdapter] Invalid type for target_modules: adapters mix regex strings and lists',
    );
  });
  it('an unknown adapter', () => {
    expect(() => peft.addWeightedAdapter(['a', 'zz'], [1, 1], 'x3', 'cat')).toThrow(
      '[addWeightedAdapter] Adapter zz does not exist; adapters: a, b, c, d, e',
    );
  });
  it('pruning types without density name the type', () => {
    for (const type of ['ties', 'ties_svd', 'dare_ties_svd', 'magnitude_prune_svd']) {
      expect(() => peft.addWeightedAdapter(['a', 'b'], [1, 1], `y_${type}`, type)).toThrow(
        `[${type}] combination_type ${type} needs density, the fraction of entries to keep in [0, 1]; received undefined`,
      );
    }
  });
  it('bad SVD options', () => {
    expect(() => peft.addWeightedAdapter(['a', 'c'], [1, 1], 'z1', 'svd', { svdClamp: 2 })).toThrow(
      '[svd_clamp] svd_clamp must be a quantile in [0, 1], received 2',
    );
    expect(() =>
      peft.addWeightedAdapter(['a', 'c'], [1, 1], 'z2', 'ties_svd', {
        density: 0.5,
        svdMethod: 'lanczos',
      } as never),
    ).toThrow('[ties_svd] unknown svdMethod "lanczos"; valid methods: exact, randomized');
    expect(() =>
      peft.addWeightedAdapter(['a', 'b'], [1, 1], 'z3', 'ties', {
        density: 0.5,
        majoritySignMethod: 'mean' as never,
      }),
    ).toThrow('[ties] unknown majority_sign_method "mean"; valid methods: total, frequency');
  });
});

describe('the merged adapter round-trips through the PEFT format', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lorakit-merge-peft-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('saveAdapter of addWeightedAdapter equals combineAdapterFiles of the saved sources, for every type', async () => {
    const peft = model();
    await saveAdapter(peft, join(dir, 'src'), { selectedAdapters: ['a', 'b', 'c'] });
    const cases: [string, string[], Record<string, unknown>][] = [
      ['linear', ['a', 'b'], {}],
      ['cat', ['a', 'b'], {}],
      ['svd', ['a', 'c'], { svdRank: 5 }],
      ['ties', ['a', 'b'], { density: 0.5, majoritySignMethod: 'frequency' }],
      ['ties_svd', ['a', 'c'], { density: 0.4, svdClamp: 0.9 }],
      ['magnitude_prune', ['a', 'b'], { density: 0.3 }],
      ['magnitude_prune_svd', ['a', 'c'], { density: 0.3 }],
    ];
    for (const [type, adapters, options] of cases) {
      peft.addWeightedAdapter(adapters, [0.6, -0.4], `m_${type}`, type, options);
      const [saved] = await saveAdapter(peft, join(dir, 'model'), { selectedAdapters: [`m_${type}`] });
      const out = join(dir, 'files', type);
      await combineAdapterFiles({
        adapters: adapters.map((a) => join(dir, 'src', a)),
        weights: [0.6, -0.4],
        type,
        options,
        outDir: out,
      });
      const { readFileSync } = await import('node:fs');
      expect(readFileSync(join(out, 'adapter_config.json'), 'utf8'), type).toBe(
        readFileSync(join(saved!, 'adapter_config.json'), 'utf8'),
      );
      expect(
        readFileSync(join(out, 'adapter_model.safetensors')).equals(
          readFileSync(join(saved!, 'adapter_model.safetensors')),
        ),
        type,
      ).toBe(true);
    }
  });
});
