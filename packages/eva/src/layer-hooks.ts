import { createHash } from 'node:crypto';
import type { AnyModule, HookHandle } from '@lorakit/nn';
import { noGrad, type Tensor, tidy } from '@lorakit/tensor';
import { EvaError } from './errors.js';
import { IncrementalPca } from './ipca/incremental-pca.js';
import type { PrepareLayerInputsFn } from './prepare-inputs.js';

/**
 * What a layer's hooks share: its name, module, prepare function and the current batch's `modelInput`
 * (set before every forward, as PEFT's `hook.model_input`).
 */
export interface LayerInputs {
  readonly name: string;
  readonly module: AnyModule;
  readonly prepare: PrepareLayerInputsFn;
  modelInput: unknown;
}

function prepared(layer: LayerInputs, args: unknown[]): Tensor {
  const x = layer.prepare(args, layer.modelInput, layer.name);
  if (x?.rank !== 2) {
    throw new EvaError(
      `[eva] prepareLayerInputsFn must return a 2-D tensor [rows, features] for layer ${layer.name}, received ${x?.shape ? `shape [${x.shape.join(', ')}]` : String(x)}`,
    );
  }
  return x;
}

/**
 * Fingerprints of each layer's prepared input on one forward pass (PEFT's `HashHook`): layers whose
 * inputs have equal values (q/k/v projections, gate/up) share one incremental PCA. Values are hashed
 * as float64 bytes, so equal values give equal digests whatever their dtype.
 */
export function hashLayerInputs(layers: readonly LayerInputs[]): {
  handles: HookHandle[];
  digests: Map<string, string>;
  /** How many times each layer ran in the pass. */
  calls: Map<string, number>;
} {
  const digests = new Map<string, string>();
  const calls = new Map<string, number>();
  const handles = layers.map((layer) =>
    layer.module.registerForwardHook((_module, args) => {
      calls.set(layer.name, (calls.get(layer.name) ?? 0) + 1);
      const x = noGrad(() => prepared(layer, args));
      const values = x.double().contiguous().toArray() as Float64Array;
      const digest = createHash('sha256')
        .update(`${x.shape.join(',')};`)
        .update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength))
        .digest('hex');
      // The first call counts (PEFT keeps `hashed_inputs[0]`).
      if (!digests.has(layer.name)) digests.set(layer.name, digest);
      return undefined;
    }),
  );
  return { handles, digests, calls };
}

/**
 * One representative layer's incremental PCA (PEFT's `SVDHook`): on every forward it fits the prepared
 * input (float32) unless it has fewer rows than components, and marks each component converged when
 * its cosine similarity with the previous batch's is at least `tau`.
 */
export class SvdHook {
  readonly pca: IncrementalPca;
  /** Per component: converged on the last fitted batch. */
  converged: boolean[];
  handle: HookHandle | null = null;
  /** Forward calls that had too few rows and were skipped. */
  skipped = 0;
  /** Called after every step (fitted or skipped), outside the step's noGrad and tidy; may throw. */
  afterStep: (() => void) | null = null;

  constructor(
    readonly layer: LayerInputs,
    readonly nComponents: number,
    readonly tau: number,
    private readonly log: (message: string) => void,
  ) {
    this.pca = new IncrementalPca({ nComponents, lowrank: true, lowrankSeed: 42 });
    this.converged = new Array<boolean>(nComponents).fill(false);
  }

  register(): void {
    this.handle = this.layer.module.registerForwardHook((_module, args) => {
      // The prepared rows, their float32 copy and the similarity's temporaries go at once (the
      // incremental PCA keeps its own state).
      noGrad(() => tidy(() => this.#step(args)));
      this.afterStep?.();
      return undefined;
    });
  }

  remove(): void {
    this.handle?.remove();
    this.handle = null;
  }

  #step(args: unknown[]): void {
    const previous = this.pca.components;
    const states = prepared(this.layer, args);
    if (states.shape[0]! < this.nComponents) {
      this.skipped++;
      this.log(
        `skipping SVD for ${this.layer.name} because there are less than ${this.nComponents} examples`,
      );
      return;
    }
    try {
      this.pca.partialFit(states.float());
    } catch (error) {
      throw new EvaError(`[eva] incremental PCA of layer ${this.layer.name}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (previous === null) return;
    this.converged = rowCosineSimilarity(this.pca.components!, previous).map((sim) => sim >= this.tau);
  }
}

/** Cosine similarity of corresponding rows (torch.nn.functional.cosine_similarity, dim 1, eps 1e-8). */
export function rowCosineSimilarity(a: Tensor, b: Tensor): number[] {
  const eps = 1e-8;
  const x = a.double();
  const y = b.double();
  const dots = x.mul(y).sum(1).toArray() as Float64Array;
  const normsX = x.square().sum(1).sqrt().toArray() as Float64Array;
  const normsY = y.square().sum(1).sqrt().toArray() as Float64Array;
  return Array.from(dots, (dot, i) => dot / (Math.max(normsX[i]!, eps) * Math.max(normsY[i]!, eps)));
}
