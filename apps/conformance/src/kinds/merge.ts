import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadAdapter, type PeftModel, registeredMergeStrategies } from '@lorakit/lora';
import { Generator, type Tensor, tensor } from '@lorakit/tensor';
import { type Check, PendingError, type Tolerance } from '../report.js';
import type { CaseContext } from '../run.js';
import { compareTensors, compareUpToSign, readTensors, toleranceOf } from '../tensors.js';
import { loadBase } from './models.js';
import { plugins } from './plugins.js';

/** One entry of `case.json`'s `merges`: PEFT's `add_weighted_adapter` call and the merged r / alpha. */
interface MergeSpec {
  readonly adapters: string[];
  readonly weights: number[];
  readonly combination_type: string;
  readonly kwargs: Record<string, unknown>;
  readonly r: number;
  readonly lora_alpha: number;
  readonly deterministic?: boolean;
}

/** The types whose result comes from an SVD of the merged delta: factors are unique up to sign. */
const SVD_TYPES = new Set(['svd', 'ties_svd', 'dare_linear_svd', 'dare_ties_svd', 'magnitude_prune_svd']);
const DARE_TYPES = new Set(['dare_linear', 'dare_ties']);

/** Float32 results of the same formulas; the PEFT 0.21 notes saw ≤ 3.4e-6 on merged deltas. */
const DEFAULT_TOLERANCE: Tolerance = { atol: 1e-5, rtol: 1e-4 };

/** PEFT's keyword arguments as `addWeightedAdapter` options. */
function optionsOf(kwargs: Record<string, unknown>): Record<string, unknown> {
  const names: Record<string, string> = {
    density: 'density',
    majority_sign_method: 'majoritySignMethod',
    svd_rank: 'svdRank',
    svd_clamp: 'svdClamp',
    svd_full_matrices: 'svdFullMatrices',
    svd_driver: 'svdDriver',
  };
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(kwargs)) {
    const name = names[key];
    if (!name)
      throw new Error(
        `merge case: unknown add_weighted_adapter keyword ${key}; known: ${Object.keys(names).join(', ')}`,
      );
    options[name] = value;
  }
  return options;
}

/**
 * `merge`: `add_weighted_adapter` on the case's adapters for every tag of `case.json`'s `merges`. The
 * merged r and lora_alpha must match; deterministic tags compare `lora_A`, `lora_B` and `delta` of every
 * module (SVD types: factors up to the sign of each rank component; clamped SVD merges clamp at a
 * quantile of the signed entries, so our unclamped factors are aligned to PEFT's signs and clamped with
 * the package's own clamp). DARE tags draw random masks: every merged entry must be a value DARE's
 * formula allows for some keep-mask (which checks the 1/density rescaling), and the keep and zero rates
 * must be within 5σ of density and (1 − density)²; PEFT's own tensors are put through the same check.
 */
export async function runMerge(context: CaseContext): Promise<Check[]> {
  const { dir, spec } = context;
  const hooks = await plugins();
  const clampFactors = hooks.clampFactors;
  if (!clampFactors) {
    throw new PendingError(
      'needs a merge plugin (clampFactors, e.g. @lorakit/merge-strategies), none is installed',
    );
  }
  const merges = spec.merges as Record<string, MergeSpec> | undefined;
  if (!merges || Object.keys(merges).length === 0) throw new Error('merge case: case.json has no "merges"');
  const tolerance = toleranceOf(spec, DEFAULT_TOLERANCE);
  const io = readTensors(join(dir, 'io.safetensors'));

  let peft: PeftModel | undefined;
  const base = await loadBase(dir);
  for (const name of new Set(Object.values(merges).flatMap((m) => m.adapters))) {
    // PEFT saves a non-default adapter in a subfolder named after it.
    const nested = join(dir, 'adapter', name, name);
    const folder = existsSync(join(nested, 'adapter_config.json')) ? nested : join(dir, 'adapter', name);
    peft = loadAdapter(peft ?? base, folder, { adapterName: name });
  }
  const layers = new Map(peft!.loraLayers());

  const checks: Check[] = [];
  for (const [tag, merge] of Object.entries(merges)) {
    const modules = [...io.keys()]
      .filter((k) => k.startsWith(`${tag}.`) && k.endsWith('.lora_A'))
      .map((k) => k.slice(tag.length + 1, -'.lora_A'.length));
    const group = new CheckGroup(tag, modules.length);
    const dareChecks: Check[] = [];
    try {
      if (!registeredMergeStrategies().includes(merge.combination_type)) {
        throw new PendingError(
          `combination_type ${merge.combination_type} is not registered (registered: ${registeredMergeStrategies().join(', ')})`,
        );
      }
      if (modules.length === 0) throw new Error(`io.safetensors holds no ${tag}.*.lora_A tensors`);
      const options = optionsOf(merge.kwargs);
      const random = merge.deterministic === false || DARE_TYPES.has(merge.combination_type);
      const name = `merged_${tag}`;
      const config = peft!.addWeightedAdapter(merge.adapters, merge.weights, name, merge.combination_type, {
        ...options,
        ...(random && { generator: new Generator(0) }),
      });
      checks.push(exact(`${tag} r`, config?.r ?? Number.NaN, merge.r));
      checks.push(exact(`${tag} lora_alpha`, config?.loraAlpha ?? Number.NaN, merge.lora_alpha));
      let unclamped: string | undefined;
      if (options.svdClamp !== undefined) {
        unclamped = `${name}_unclamped`;
        const { svdClamp: _, ...rest } = options;
        peft!.addWeightedAdapter(merge.adapters, merge.weights, unclamped, merge.combination_type, rest);
      }
      const dare = random ? new DareCounts() : undefined;
      const peftDare = random ? new DareCounts() : undefined;
      for (const module of modules) {
        const layer = layers.get(module);
        if (!layer) {
          group.add('modules', missing(module, [...layers.keys()]));
          continue;
        }
        const want = (what: string) => io.get(`${tag}.${module}.${what}`)!;
        const ours = layer.factorParameters(name);
        if (dare) {
          const sources = merge.adapters.map((adapter) => layer.factorParameters(adapter));
          const weights = factorWeights(
            merge.weights,
            merge.adapters.map((adapter) => layer.scaling.get(adapter)!),
          );
          const type = merge.combination_type as 'dare_linear' | 'dare_ties';
          const density = options.density as number;
          for (const [side, w] of [
            ['a', weights.a],
            ['b', weights.b],
          ] as const) {
            const inputs = sources.map((s) => s[side]);
            dare.record(type, ours[side], inputs, w, density);
            peftDare!.record(type, want(side === 'a' ? 'lora_A' : 'lora_B'), inputs, w, density);
          }
        } else if (unclamped) {
          const raw = layer.factorParameters(unclamped);
          const aligned = alignSigns(raw.a, raw.b, want('lora_A'));
          const clamped = clampFactors(aligned, options.svdClamp as number);
          group.add('lora_A', compareTensors('lora_A', clamped.a, want('lora_A'), tolerance));
          group.add('lora_B', compareTensors('lora_B', clamped.b, want('lora_B'), tolerance));
          const delta = clamped.b
            .reshape([clamped.b.shape[0]!, -1])
            .matmul(clamped.a.reshape([clamped.a.shape[0]!, -1]))
            .mul(layer.scaling.get(name)!);
          group.add('delta', compareTensors('delta', delta, want('delta'), tolerance));
          // The merged adapter itself is that clamp applied to our own signs.
          const own = clampFactors(raw, options.svdClamp as number);
          group.add('own clamp', compareTensors('own clamp', ours.a, own.a, { atol: 0, rtol: 0 }));
        } else {
          const svd = SVD_TYPES.has(merge.combination_type);
          const compare = (what: string, actual: Tensor, axis: 0 | 1) =>
            svd
              ? compareUpToSign(what, matrix(actual), matrix(want(what)), axis, tolerance)
              : compareTensors(what, actual, want(what), tolerance);
          group.add('lora_A', compare('lora_A', ours.a, 0));
          group.add('lora_B', compare('lora_B', ours.b, 1));
          group.add('delta', compareTensors('delta', layer.deltaWeight(name), want('delta'), tolerance));
        }
      }
      if (dare && peftDare) {
        const density = options.density as number;
        const type = merge.combination_type as 'dare_linear' | 'dare_ties';
        dareChecks.push(
          ...dare.checks(tag, type, density),
          ...peftDare.checks(`${tag} (PEFT's tensors)`, type, density),
        );
      }
      peft!.deleteAdapter(name);
      if (unclamped) peft!.deleteAdapter(unclamped);
    } catch (error) {
      if (error instanceof PendingError) throw error;
      group.add('merge', {
        name: 'merge',
        error: Number.POSITIVE_INFINITY,
        bound: 'runs',
        ok: false,
        note: (error as Error).message.split('\n')[0],
      });
    }
    checks.push(...group.finish(), ...dareChecks);
  }
  return checks;
}

/** Per-tag checks folded over the modules: one line per (tag, tensor) with the worst error. */
class CheckGroup {
  private readonly worst = new Map<string, Check>();
  constructor(
    private readonly tag: string,
    private readonly modules: number,
  ) {}
  add(what: string, check: Check): void {
    const seen = this.worst.get(what);
    const ok = check.ok && (seen?.ok ?? true);
    const pick = !seen || !(check.error <= seen.error) ? check : seen;
    this.worst.set(what, { ...pick, ok, note: pick.note ?? seen?.note });
  }
  finish(): Check[] {
    return [...this.worst.entries()].map(([what, check]) => ({
      ...check,
      name: `${this.tag}.${what} (${this.modules} modules)`,
    }));
  }
}

function exact(name: string, actual: number, expected: number): Check {
  return {
    name,
    error: Math.abs(actual - expected),
    bound: 'exact',
    ok: actual === expected,
    ...(actual !== expected && { note: `${actual} vs expected ${expected}` }),
  };
}

function missing(module: string, known: string[]): Check {
  return {
    name: module,
    error: Number.POSITIVE_INFINITY,
    bound: 'exists',
    ok: false,
    note: `no LoRA layer ${module}; LoRA layers: ${known.join(', ')}`,
  };
}

const matrix = (t: Tensor): Tensor => t.reshape([t.shape[0]!, -1]).contiguous();

/** Flips rank component i (row i of A, column i of B) to point the way of the reference's row i of A. */
function alignSigns(a: Tensor, b: Tensor, referenceA: Tensor): { a: Tensor; b: Tensor } {
  const k = a.shape[0]!;
  const ours = matrix(a).toArray() as Float32Array;
  const reference = matrix(referenceA).toArray() as Float32Array;
  const n = ours.length / k;
  const signs: number[] = [];
  for (let i = 0; i < k; i++) {
    let dot = 0;
    for (let j = 0; j < n; j++) dot += ours[i * n + j]! * reference[i * n + j]!;
    signs.push(dot < 0 ? -1 : 1);
  }
  return {
    a: matrix(a)
      .mul(tensor(signs, { shape: [k, 1] }))
      .reshape(a.shape),
    b: b
      .reshape([b.shape[0]!, k])
      .mul(tensor(signs, { shape: [1, k] }))
      .reshape(b.shape),
  };
}

/** The non-SVD family folds cᵢ = wᵢ·sᵢ as sign(cᵢ)·√|cᵢ| into A and √|cᵢ| into B. */
function factorWeights(
  weights: readonly number[],
  scalings: readonly number[],
): { a: number[]; b: number[] } {
  const c = weights.map((w, i) => w * scalings[i]!);
  return {
    a: c.map((x) => (x >= 0 ? 1 : -1) * Math.sqrt(Math.abs(x))),
    b: c.map((x) => Math.sqrt(Math.abs(x))),
  };
}

/**
 * What DARE promises about a merged factor, recovered entry by entry: the keep-mask (over all 2ⁿ
 * candidates) whose formula value equals the merged entry. `dare_linear`: Σ over kept i of wᵢ·tᵢ/density.
 * `dare_ties`: sign election on the rescaled tensors, then the mean of the agreeing weighted ones. For
 * dare_ties a mask is not unique (a dropped loser does not show), so only zeros are counted there: an
 * entry is 0 exactly when every source dropped it, with probability (1 − density)ⁿ, for both types.
 */
class DareCounts {
  kept = 0;
  total = 0;
  zeros = 0;
  entries = 0;
  unexplained = 0;
  firstUnexplained?: string;
  private sources = 0;

  record(
    type: 'dare_linear' | 'dare_ties',
    merged: Tensor,
    sources: readonly Tensor[],
    weights: readonly number[],
    density: number,
  ): void {
    const values = merged.contiguous().toArray() as Float32Array;
    const inputs = sources.map((s) => s.contiguous().toArray() as Float32Array);
    const n = inputs.length;
    const rescaled = new Array<number>(n);
    for (let e = 0; e < values.length; e++) {
      for (let i = 0; i < n; i++) rescaled[i] = inputs[i]![e]! / density;
      let match = -1;
      for (let mask = 0; mask < 1 << n && match < 0; mask++) {
        const p = predict(type, rescaled, mask, weights);
        if (Math.abs(values[e]! - p) <= 1e-6 + 1e-5 * Math.abs(p)) match = mask;
      }
      this.entries++;
      if (values[e] === 0) this.zeros++;
      if (match < 0) {
        this.unexplained++;
        this.firstUnexplained ??= `entry ${e} is ${values[e]}`;
        continue;
      }
      for (let i = 0; i < n; i++) this.kept += (match >> i) & 1;
      this.total += n;
    }
    this.sources = n;
  }

  checks(label: string, type: 'dare_linear' | 'dare_ties', density: number): Check[] {
    const rate = (name: string, observed: number, p: number, count: number): Check => {
      const bound = 5 * Math.sqrt((p * (1 - p)) / count);
      const error = Math.abs(observed - p);
      return {
        name,
        error,
        bound: `5σ = ${bound.toExponential(2)}`,
        ok: error <= bound,
        note: `${observed.toFixed(4)} vs ${p.toFixed(4)} over ${count}`,
      };
    };
    const out: Check[] = [
      {
        name: `${label} entries explained by a keep-mask`,
        error: this.unexplained,
        bound: '0 unexplained',
        ok: this.unexplained === 0,
        ...(this.firstUnexplained && { note: `first: ${this.firstUnexplained}` }),
      },
      rate(`${label} zero rate`, this.zeros / this.entries, (1 - density) ** this.sources, this.entries),
    ];
    if (type === 'dare_linear')
      out.push(rate(`${label} kept rate`, this.kept / this.total, density, this.total));
    return out;
  }
}

function predict(
  type: 'dare_linear' | 'dare_ties',
  rescaled: number[],
  mask: number,
  weights: readonly number[],
): number {
  const pruned = rescaled.map((t, i) => ((mask >> i) & 1 ? t : 0));
  if (type === 'dare_linear') return pruned.reduce((sum, p, i) => sum + weights[i]! * p, 0);
  const elected = pruned.reduce((x, y) => x + y, 0) >= 0 ? 1 : -1;
  let sum = 0;
  let count = 0;
  pruned.forEach((p, i) => {
    if (Math.sign(p) === elected) {
      sum += weights[i]! * p;
      count++;
    }
  });
  return sum / Math.max(1, count);
}
