import { type Tensor, tensor } from '@lorakit/tensor';
import { expect } from 'vitest';
import { clampFactors } from '../src/index.js';
import { alignSigns, type ErrorReport, maxError } from './compare.js';
import { expected, fixtureModules, type MergeSpec } from './fixture.js';

/** Reference tensors `TAG.MODULE.lora_A` / `.lora_B` / `.delta` and the module paths of a tag. */
export interface Reference {
  readonly tensors: ReadonlyMap<string, Tensor>;
  modules(tag: string): string[];
}

export const MERGES_FIXTURE: Reference = { tensors: expected, modules: fixtureModules };

/** One merged module as a merge path produced it. */
export interface MergedModule {
  readonly a: Tensor;
  readonly b: Tensor;
  /** ΔW of the merged adapter (scaling included), in the base layout. */
  readonly delta: Tensor;
}

/** Tolerances: float32 results of the same formulas (the PEFT 0.21 notes saw ≤ 3.4e-6 on deltas). */
export const ATOL = 1e-5;
export const RTOL = 1e-4;
const TOLERANCE = `atol ${ATOL}, rtol ${RTOL}`;

const SVD_TYPES = new Set(['svd', 'ties_svd', 'dare_linear_svd', 'dare_ties_svd', 'magnitude_prune_svd']);

/**
 * Compares every module of a deterministic merge tag with PEFT's tensors: lora_A, lora_B and delta
 * element-wise (SVD types: factors after aligning each rank component's sign with PEFT's). Clamped SVD
 * merges depend on those signs (the quantile is over signed entries), so there the unclamped factors
 * are aligned to PEFT's, clamped with the same quantile and compared; `unclamped` gives them.
 */
export function checkDeterministic(
  tag: string,
  spec: MergeSpec,
  merged: (module: string) => MergedModule,
  report: ErrorReport,
  unclamped?: (module: string) => MergedModule,
  reference: Reference = MERGES_FIXTURE,
): void {
  const modules = reference.modules(tag);
  expect(modules.length).toBeGreaterThan(0);
  for (const module of modules) {
    const want = {
      a: reference.tensors.get(`${tag}.${module}.lora_A`)!,
      b: reference.tensors.get(`${tag}.${module}.lora_B`)!,
      delta: reference.tensors.get(`${tag}.${module}.delta`)!,
    };
    const ours = merged(module);
    const label = `${tag} ${module}`;
    if (spec.kwargs.svd_clamp !== undefined) {
      const raw = unclamped!(module);
      const aligned = alignSigns(raw.a, raw.b, want.a);
      const clamped = clampFactors(aligned, spec.kwargs.svd_clamp as number);
      report.add(tag, 'lora_A', maxError(clamped.a, want.a, ATOL, RTOL, `${label} lora_A`), TOLERANCE);
      report.add(tag, 'lora_B', maxError(clamped.b, want.b, ATOL, RTOL, `${label} lora_B`), TOLERANCE);
      const delta = clamped.b
        .reshape([clamped.b.shape[0]!, -1])
        .matmul(clamped.a.reshape([clamped.a.shape[0]!, -1]));
      report.add(tag, 'delta', maxError(delta, want.delta, ATOL, RTOL, `${label} delta`), TOLERANCE);
      // For information: our clamped factors compared as they are, without aligning signs (PEFT's
      // notes saw some v_proj layers off by 0.3–0.6 for this reason).
      report.add(tag, 'A as-is', maxAbsDifference(ours.a, want.a), 'no tolerance: sign-dependent');
      // Our own clamp is the same operation on our own signs.
      const own = clampFactors({ a: raw.a, b: raw.b }, spec.kwargs.svd_clamp as number);
      maxError(ours.a, own.a, 1e-7, 0, `${label} own clamp lora_A`);
      maxError(ours.b, own.b, 1e-7, 0, `${label} own clamp lora_B`);
      continue;
    }
    const factors = SVD_TYPES.has(spec.combination_type) ? alignSigns(ours.a, ours.b, want.a) : ours;
    report.add(tag, 'lora_A', maxError(factors.a, want.a, ATOL, RTOL, `${label} lora_A`), TOLERANCE);
    report.add(tag, 'lora_B', maxError(factors.b, want.b, ATOL, RTOL, `${label} lora_B`), TOLERANCE);
    report.add(tag, 'delta', maxError(ours.delta, want.delta, ATOL, RTOL, `${label} delta`), TOLERANCE);
  }
}

/** Counts of DARE's keep-masks recovered from merged factors. */
export interface DareCounts {
  /** Entries kept by the recovered masks (dare_linear, where the masks are unique). */
  kept: number;
  /** Mask entries (two per merged entry). */
  total: number;
  /** Merged entries that are 0: both sources dropped, probability (1 − density)². */
  zeros: number;
  entries: number;
}

/**
 * DARE's masks are random, so a merged factor is checked for what DARE promises: every entry is one of
 * the values the formula allows for some keep-mask — Σ over kept i of cᵢ·tᵢ/density (`dare_linear`) or
 * the disjoint mean of the agreeing kept cᵢ·tᵢ/density (`dare_ties`) — which checks the 1/density
 * rescaling, and the masks keep ≈ density of the entries. For `dare_linear` the mask is recovered
 * entry by entry; for `dare_ties` it is not unique (when both signs disagree, the loser's mask does not
 * show), so only the zeros are counted: a merged entry is 0 exactly when both sources dropped it, with
 * probability (1 − density)², for both types. Two sources (the fixture's tags).
 */
export function recoverDareMasks(
  type: 'dare_linear' | 'dare_ties',
  merged: Tensor,
  sources: readonly Tensor[],
  weights: readonly number[],
  density: number,
  counts: DareCounts,
  label: string,
): void {
  expect(sources.length).toBe(2);
  const v = merged.contiguous().toArray() as Float32Array;
  const t = sources.map((s) => s.contiguous().toArray() as Float32Array);
  for (let e = 0; e < v.length; e++) {
    const pruned = t.map((x) => x[e]! / density);
    const candidates: [number, number, number][] = [];
    for (const m0 of [0, 1])
      for (const m1 of [0, 1])
        candidates.push([m0, m1, predict(type, [m0 * pruned[0]!, m1 * pruned[1]!], weights)]);
    const match = candidates.find(([, , p]) => Math.abs(v[e]! - p) <= 1e-6 + 1e-5 * Math.abs(p));
    if (!match) {
      throw new Error(
        `${label}: entry ${e} is ${v[e]}, not a ${type} value for any keep-mask (candidates ${candidates.map((c) => c[2]).join(', ')})`,
      );
    }
    counts.kept += match[0] + match[1];
    counts.total += 2;
    counts.entries++;
    if (v[e] === 0) counts.zeros++;
  }
}

function predict(type: 'dare_linear' | 'dare_ties', pruned: number[], weights: readonly number[]): number {
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

/**
 * The recovered keep rate within 5 binomial standard deviations of `density` (dare_linear only), and the
 * rate of zero entries within 5σ of (1 − density)².
 */
export function expectKeepRate(
  type: 'dare_linear' | 'dare_ties',
  counts: DareCounts,
  density: number,
  label: string,
): void {
  const within = (observed: number, p: number, n: number, what: string) =>
    expect(Math.abs(observed - p), `${label}: ${what} ${observed} vs ${p} over ${n}`).toBeLessThan(
      5 * Math.sqrt((p * (1 - p)) / n),
    );
  if (type === 'dare_linear') within(counts.kept / counts.total, density, counts.total, 'kept rate');
  within(counts.zeros / counts.entries, (1 - density) ** 2, counts.entries, 'zero rate');
}

/** The √|w·s| factor weights of the non-SVD family (sign on A). */
export function factorWeights(
  weights: readonly number[],
  scalings: readonly number[],
): { a: number[]; b: number[] } {
  const c = weights.map((w, i) => w * scalings[i]!);
  return {
    a: c.map((x) => Math.sign(x || 1) * Math.sqrt(Math.abs(x))),
    b: c.map((x) => Math.sqrt(Math.abs(x))),
  };
}

export { tensor };

function maxAbsDifference(a: Tensor, b: Tensor): number {
  const x = a.contiguous().toArray() as Float32Array;
  const y = b.contiguous().toArray() as Float32Array;
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
}
