import { type InitLoraWeights, type InitStrategy, LoraConfigError } from '@lorakit/lora';
import { type Generator, noGrad, svdLowrank, type Tensor } from '@lorakit/tensor';
import { initGenerator } from '../init-generator.js';
import {
  assignFactors,
  checkedBaseDtype,
  checkRank,
  linearLayoutWeight,
  writeResidual,
} from '../layer-weight.js';
import { PISSA_DTYPE_MESSAGE } from './pissa.js';
import { type ResidualInit, splitSingularTriplets } from './residual-split.js';

/** Python's `int(text)` for base 10: surrounding whitespace, a sign, digits with single underscores. */
const PYTHON_INT = /^\s*[+-]?\d+(?:_\d+)*\s*$/;

/**
 * The number of power iterations in a `pissa_niter_N` value, parsed as PEFT does: the value is split on
 * `_niter_` and must give exactly two parts, the second read with Python's `int()` (so `pissa_niter_`
 * fails like `int('')`). A negative count is rejected (torch would silently run none).
 */
export function parsePissaNiter(value: InitLoraWeights): number {
  const text = String(value);
  const parts = text.split('_niter_');
  if (parts.length !== 2) {
    throw new LoraConfigError(
      `[pissa] init_lora_weights should be 'pissa' or 'pissa_niter_[number of iters]', got ${text} instead.`,
    );
  }
  const count = parts[1]!;
  if (!PYTHON_INT.test(count)) {
    throw new LoraConfigError(
      `[pissa] init_lora_weights='${text}': invalid literal for int() with base 10: '${count}' (expected 'pissa' or 'pissa_niter_[number of iters]')`,
    );
  }
  const niter = Number(count.trim().replaceAll('_', ''));
  if (niter < 0) {
    throw new LoraConfigError(
      `[pissa] init_lora_weights='${text}': the number of power iterations must be ≥ 0, received ${niter}`,
    );
  }
  return niter;
}

/**
 * Fast PiSSA — PiSSA (Meng, Wang & Zhang 2024, arXiv:2404.02948, §3 "fast SVD") with the principal
 * triplets from a randomized SVD: `svdLowrank(W, r, niter)`, torch.svd_lowrank's algorithm (Halko,
 * Martinsson & Tropp 2011, Alg. 4.4: a Gaussian sketch, `niter` power iterations with
 * re-orthonormalization), with exactly q = r columns and no oversampling, as PEFT. The work is
 * 2·niter + 2 products of W with an [n, r] panel plus QRs of [n, r] panels, O(out·in·r·niter) instead
 * of the full SVD's O(out·in·min(out, in)).
 *
 * The factors are approximate (how close depends on the spectral gap after σᵣ and on niter), but the
 * residual is formed from them, so W_res + s·B·A = W holds to float32 rounding regardless.
 *
 * @param options.generator the random source of the sketch (default: the default generator)
 */
export function pissaNiterInit(
  weight: Tensor,
  r: number,
  scaling: number,
  niter: number,
  options: { generator?: Generator } = {},
): ResidualInit {
  checkRank('pissaNiterInit', 'the weight', weight.shape, r);
  return noGrad(() => {
    const { u, s, v } = svdLowrank(weight, r, niter, { generator: options.generator });
    return splitSingularTriplets(weight, u, s, v.T, scaling);
  });
}

/**
 * `init_lora_weights: 'pissa_niter_N'` (and, as PEFT's `startswith("pissa")` dispatch implies, any
 * other `pissa…` string, which is then parsed and rejected). The sketch is drawn from
 * {@link initGenerator}: wrap `getPeftModel` / `loadAdapter` in `withInitGenerator(new Generator(seed), …)`
 * (or call `manualSeed(seed)` first) to make the factors and the residual reproducible.
 */
export const pissaNiterStrategy: InitStrategy = {
  name: 'pissa_niter',
  kinds: ['linear'],
  modifiesBaseWeight: true,
  matches: (value) => typeof value === 'string' && value.startsWith('pissa') && value !== 'pissa',
  initialize(ctx) {
    const niter = parsePissaNiter(ctx.value);
    const dtype = checkedBaseDtype(ctx, 'pissa', PISSA_DTYPE_MESSAGE);
    noGrad(() => {
      const weight = linearLayoutWeight(ctx);
      checkRank('pissa', ctx.modulePath, weight.shape, ctx.r);
      const { a, b, residual } = pissaNiterInit(weight, ctx.r, ctx.scaling, niter, {
        generator: initGenerator(),
      });
      assignFactors(ctx, 'pissa', a, b);
      writeResidual(ctx, residual, dtype);
    });
  },
};
