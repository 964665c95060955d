/**
 * The lorakit side of a GPU benchmark row on the `cuda` backend: build the model and adapter, time the
 * training step (median of `steps` after warmups), read the peak memory of the steps, optionally profile
 * one step, and for the forward row the forward unmerged and merged and mergeAndUnload. Any failure is
 * reported in the result (with its stage) instead of thrown, and every tensor of the row is disposed at
 * the end so that the next row's peak is its own.
 */
import type { CudaProfile } from '@lorakit/cuda-backend';
import { getPeftModel, LoraConfig } from '@lorakit/lora';
import { createModel } from '@lorakit/models';
import { AdamW, type Optimizer } from '@lorakit/nn';
import { type Dtype, Generator, noGrad, randint, type Tensor, tidy } from '@lorakit/tensor';
import { type RowSpec, TARGETS } from './rows.js';

type Cuda = typeof import('@lorakit/cuda-backend');

export interface ProfileSummary {
  wallMs: number;
  gpuBusyMs: number;
  gapMs: number;
  busyPercent: number;
  hostJsMs: number;
  driverMs: number;
  syncMs: number;
  overheadMs: number;
  kernelLaunches: number;
  gemms: number;
  allocs: number;
  frees: number;
  topKernels: { name: string; launches: number; gpuMs: number }[];
}

export interface LorakitResult {
  dtype: Dtype;
  stepsMs?: number[];
  trainMs?: number;
  peakGiB?: number;
  /** Bytes lorakit held when the row started (what an earlier row left behind), in GiB. */
  startInUseGiB?: number;
  loss?: number;
  forwardUnmergedMs?: number;
  forwardMergedMs?: number;
  mergeMs?: number;
  profile?: ProfileSummary;
  profileError?: string;
  error?: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gib = (bytes: number) => bytes / 2 ** 30;

export function summarizeProfile(p: CudaProfile, top = 15): ProfileSummary {
  return {
    wallMs: p.wallMs,
    gpuBusyMs: p.gpuBusyMs,
    gapMs: p.gapMs,
    busyPercent: p.busyPercent,
    hostJsMs: p.hostJsMs,
    driverMs: p.driverMs,
    syncMs: p.syncMs,
    overheadMs: p.overheadMs,
    kernelLaunches: p.kernelLaunches,
    gemms: p.gemms,
    allocs: p.calls.alloc.calls,
    frees: p.calls.free.calls,
    topKernels: p.kernels.slice(0, top).map((k) => ({ ...k })),
  };
}

/** Disposes the optimizer state, the gradients, parameters and buffers of a module tree. */
function release(modules: unknown[], optimizer: Optimizer | undefined): void {
  if (optimizer) {
    for (const p of optimizer.parameters())
      for (const b of optimizer.stateOf(p)?.buffers.values() ?? []) b.dispose();
  }
  for (const m of modules) {
    const module = m as {
      parameters(): Tensor[];
      stateDict(): Map<string, Tensor>;
      namedBuffers(): [string, Tensor][];
    };
    if (!module) continue;
    for (const p of module.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
    for (const t of module.stateDict().values()) t.dispose();
    for (const [, t] of module.namedBuffers()) t.dispose();
  }
}

export function runLorakitRow(
  cuda: Cuda,
  row: RowSpec,
  options: {
    dtype: Dtype;
    batch: number;
    sequence: number;
    steps: number;
    profile: boolean;
    log: (message: string) => void;
  },
): LorakitResult {
  const out: LorakitResult = { dtype: options.dtype };
  const modules: unknown[] = [];
  let optimizer: AdamW | undefined;
  let inputIds: Tensor | undefined;
  let stage = 'model';
  const timeSteps = (step: () => unknown, warmup: number) => {
    for (let i = 0; i < warmup; i++) step();
    cuda.synchronize();
    const times: number[] = [];
    for (let i = 0; i < options.steps; i++) {
      const start = performance.now();
      step();
      cuda.synchronize();
      times.push(performance.now() - start);
    }
    return times;
  };
  try {
    out.startInUseGiB = gib(cuda.memoryStats().inUse);
    const generator = new Generator(0);
    inputIds = randint(0, row.config.vocab_size, [options.batch, options.sequence], { generator });
    const model = createModel(row.config, { generator, dtype: options.dtype });
    modules.push(model);
    if (row.checkpointing) model.gradientCheckpointingEnable();
    const peft = getPeftModel(
      model,
      new LoraConfig({ r: 16, loraAlpha: 32, targetModules: TARGETS, useDora: row.dora }),
    );
    modules.push(peft);
    optimizer = new AdamW(
      peft.parameters().filter((p) => p.requiresGrad),
      { lr: 1e-4 },
    );
    const ids = inputIds;
    const adam = optimizer;
    let loss: Tensor | undefined;
    const trainStep = () => {
      loss?.dispose();
      loss = tidy(() => {
        peft.train();
        adam.zeroGrad();
        const l = (peft.call({ inputIds: ids, labels: ids }) as { loss: Tensor }).loss;
        l.backward();
        adam.step();
        return l.detach().keep();
      });
    };
    options.log('model ready, warming up');
    stage = 'train step';
    cuda.synchronize();
    trainStep();
    cuda.synchronize();
    cuda.resetPeakMemory();
    out.stepsMs = timeSteps(trainStep, 1);
    out.trainMs = median(out.stepsMs);
    out.peakGiB = gib(cuda.memoryStats().peakInUse);
    out.loss = (loss as Tensor | undefined)?.item();
    options.log(
      `train step ${out.trainMs.toFixed(1)} ms (${out.stepsMs.map((t) => t.toFixed(0)).join(', ')}), peak ${out.peakGiB.toFixed(2)} GiB, loss ${out.loss?.toFixed(3)}`,
    );
    if (options.profile) {
      try {
        const p = cuda.profile(trainStep);
        out.profile = summarizeProfile(p);
        console.log(cuda.formatProfile(p, { title: `profile of one ${row.name} step`, top: 15 }));
      } catch (error) {
        out.profileError = (error as Error).message.slice(0, 400);
        options.log(`profile failed: ${out.profileError}`);
      }
    }
    (loss as Tensor | undefined)?.dispose();
    if (row.forward) {
      stage = 'forward unmerged';
      const forward = () =>
        tidy(() =>
          noGrad(() => (peft.eval().call({ inputIds: ids }) as { logits: Tensor }).logits.dispose()),
        );
      out.forwardUnmergedMs = median(timeSteps(forward, 1));
      stage = 'mergeAndUnload';
      optimizer = undefined;
      release([], adam);
      cuda.synchronize();
      const mergeStart = performance.now();
      const merged = peft.mergeAndUnload();
      cuda.synchronize();
      out.mergeMs = performance.now() - mergeStart;
      modules.push(merged);
      stage = 'forward merged';
      out.forwardMergedMs = median(
        timeSteps(
          () =>
            tidy(() =>
              noGrad(() =>
                (
                  (merged as { eval(): { forward(x: unknown): unknown } })
                    .eval()
                    .forward({ inputIds: ids }) as {
                    logits: Tensor;
                  }
                ).logits.dispose(),
              ),
            ),
          1,
        ),
      );
      options.log(
        `forward unmerged ${out.forwardUnmergedMs.toFixed(1)} ms, merged ${out.forwardMergedMs.toFixed(1)} ms, mergeAndUnload ${out.mergeMs.toFixed(1)} ms`,
      );
    }
  } catch (error) {
    out.error = `${stage}: ${(error as Error).message}`.slice(0, 800);
    options.log(`FAILED at ${out.error}`);
  } finally {
    try {
      release(modules, optimizer);
      inputIds?.dispose();
      cuda.synchronize();
      (globalThis as { gc?: () => void }).gc?.();
      cuda.emptyCache();
    } catch (error) {
      options.log(`releasing the row's tensors failed: ${(error as Error).message}`);
    }
  }
  return out;
}
