import type { InitStrategy } from '@lorakit/lora';
import { noGrad, type Tensor } from '@lorakit/tensor';
import type { CordaEigens } from '../corda/corda-eigens.js';
import { takeCordaEigens } from '../corda/eigens-store.js';
import { CordaError } from '../errors.js';
import { assignFactors, checkedBaseDtype, linearLayoutWeight, writeResidual } from '../layer-weight.js';
import { type ResidualInit, splitSingularTriplets } from './residual-split.js';

/** PEFT's TypeError for base weights CorDA cannot factor. */
const CORDA_DTYPE_MESSAGE =
  'Please initialize CorDA under float32, float16, or bfloat16. Subsequently, re-quantize the residual model to help minimize quantization errors.';

/** Why eigens from `preprocessCorda` do not fit a layer (PEFT's wording, which names the usual causes). */
const CONSISTENCY_HINT =
  "Please make sure the `lora_config` and `model` argument of `preprocess_corda` is consistent with `get_peft_model`. If you're using cache in `preprocess_corda`, please make sure the cache is built with the same model and LoRA rank.";

function hasNonFinite(t: Tensor): boolean {
  return Boolean(t.isnan().logicalOr(t.isinf()).any().item());
}

/**
 * CorDA's adapter from prepared eigens — Yang et al. 2024 (arXiv:2406.05223). With the r triplets
 * (S, U, V) of `preprocessCorda`: A = diag(√(S/s))·Vᵀ, B = U·diag(√(S/s)), W_res = W − s·B·A — PiSSA's
 * split applied to the covariance-weighted decomposition (V is not orthonormal).
 *
 * @param weight W [out, in] float32 (nn.Linear layout)
 */
export function cordaInit(weight: Tensor, eigens: CordaEigens, scaling: number): ResidualInit {
  return noGrad(() => splitSingularTriplets(weight, eigens.u, eigens.s, eigens.v.T, scaling));
}

/** Checks eigens against the layer (PEFT's `corda_init` checks, in its order). */
export function checkCordaEigens(
  eigens: CordaEigens,
  outFeatures: number,
  inFeatures: number,
  r: number,
  modulePath: string,
): void {
  for (const [name, t] of [
    ['S', eigens.s],
    ['U', eigens.u],
    ['V', eigens.v],
  ] as const) {
    if (hasNonFinite(t)) {
      throw new CordaError(
        `[corda] Invalid value found in matrix ${name} of ${modulePath}. Please file an issue at https://github.com/huggingface/peft/issues.`,
      );
    }
  }
  const shape = (t: Tensor) => `[${t.shape.join(', ')}]`;
  if (eigens.u.rank !== 2 || eigens.u.shape[0] !== outFeatures || eigens.u.shape[1] !== r) {
    throw new CordaError(
      `[corda] Matrix U size mismatch for ${modulePath}: ${shape(eigens.u)} vs. [${outFeatures}, ${r}]. ${CONSISTENCY_HINT}`,
    );
  }
  if (eigens.s.rank !== 1 || eigens.s.shape[0] !== r) {
    throw new CordaError(
      `[corda] Matrix S size mismatch for ${modulePath}: ${shape(eigens.s)} vs. [${r}]. ${CONSISTENCY_HINT}`,
    );
  }
  if (eigens.v.rank !== 2 || eigens.v.shape[0] !== inFeatures || eigens.v.shape[1] !== r) {
    throw new CordaError(
      `[corda] Matrix V size mismatch for ${modulePath}: ${shape(eigens.v)} vs. [${inFeatures}, ${r}]. ${CONSISTENCY_HINT}`,
    );
  }
}

/**
 * `init_lora_weights: 'corda'` (any `corda…` string, as PEFT's `startswith("corda")`). Needs the eigens
 * `preprocessCorda` attached to the layer's base module; they are consumed here. Loading a saved CorDA
 * adapter therefore also needs `preprocessCorda` first (or convert it to plain LoRA — see
 * `saveConvertedAdapter`), exactly as in PEFT.
 */
export const cordaStrategy: InitStrategy = {
  name: 'corda',
  kinds: ['linear'],
  modifiesBaseWeight: true,
  matches: (value) => typeof value === 'string' && value.startsWith('corda'),
  initialize(ctx) {
    const dtype = checkedBaseDtype(ctx, 'corda', CORDA_DTYPE_MESSAGE);
    const eigens = takeCordaEigens(ctx.layer.baseLayer);
    if (!eigens) {
      throw new CordaError(
        `[corda] \`eigens\` attribute not found for layer ${ctx.modulePath}, please run \`preprocess_corda\` first (preprocessCorda(model, config, runModel) before getPeftModel). More information can be found at examples/corda_finetuning/README.md.`,
      );
    }
    noGrad(() => {
      const weight = linearLayoutWeight(ctx);
      const [outFeatures, inFeatures] = weight.shape as [number, number];
      checkCordaEigens(eigens, outFeatures, inFeatures, ctx.r, ctx.modulePath);
      const { a, b, residual } = cordaInit(weight, eigens, ctx.scaling);
      assignFactors(ctx, 'corda', a, b);
      writeResidual(ctx, residual, dtype);
    });
  },
};
