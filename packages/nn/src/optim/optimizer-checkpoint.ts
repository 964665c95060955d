import { type Dtype as SafetensorsDtype, SafetensorsFile, writeSafetensors } from '@lorakit/safetensors';
import { type Dtype, type Tensor, tensor } from '@lorakit/tensor';
import { TrainingError } from '../errors.js';
import type { LrScheduler, LrSchedulerState } from './lr-scheduler.js';
import type { Optimizer, OptimizerStateDict, ParamGroupState } from './optimizer.js';

const FORMAT = 'lorakit-optimizer-state';

const TO_FILE: Partial<Record<Dtype, SafetensorsDtype>> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
};
const FROM_FILE: Partial<Record<SafetensorsDtype, Dtype>> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
};

/** What {@link loadOptimizerState} read besides the tensors. */
export interface LoadedTrainingState {
  /** The `step` given to {@link saveOptimizerState}, if any. */
  readonly step: number | undefined;
  /** Extra metadata given to {@link saveOptimizerState}. */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Writes an optimizer's state (and optionally a scheduler's and the global step) to a safetensors
 * file: the tensors of `optimizer.stateDict()` under their names, and the parameter groups, scheduler
 * state and step as JSON in `__metadata__`. The write is atomic.
 */
export async function saveOptimizerState(
  path: string,
  optimizer: Optimizer,
  options: { scheduler?: LrScheduler; step?: number; metadata?: Readonly<Record<string, string>> } = {},
): Promise<void> {
  const dict = optimizer.stateDict();
  const entries = [...dict.state].map(([name, t]) => {
    const dtype = TO_FILE[t.dtype];
    if (!dtype) throw new TrainingError(`[saveOptimizerState] "${name}" has unsupported dtype ${t.dtype}`);
    return { name, dtype, shape: t.shape, data: () => t.toArray() as Float32Array | Float64Array };
  });
  const metadata: Record<string, string> = {
    ...options.metadata,
    format: FORMAT,
    optimizer: dict.optimizer,
    param_groups: JSON.stringify(dict.paramGroups),
  };
  if (options.scheduler) metadata.scheduler = JSON.stringify(options.scheduler.stateDict());
  if (options.step !== undefined) metadata.step = String(options.step);
  await writeSafetensors(path, entries, { metadata });
}

/**
 * Restores what {@link saveOptimizerState} wrote into an optimizer over the same parameters (and a
 * scheduler, when one is given and the file has its state). Returns the saved step and metadata.
 */
export function loadOptimizerState(
  path: string,
  optimizer: Optimizer,
  scheduler?: LrScheduler,
): LoadedTrainingState {
  const file = SafetensorsFile.open(path);
  try {
    const { format, optimizer: kind, param_groups, scheduler: schedulerJson, step, ...rest } = file.metadata;
    if (format !== FORMAT || kind === undefined || param_groups === undefined) {
      throw new TrainingError(
        `[loadOptimizerState] ${path} is not an optimizer state written by saveOptimizerState (metadata format is ${JSON.stringify(format)})`,
      );
    }
    const state = new Map<string, Tensor>();
    for (const info of file.tensors) {
      const dtype = FROM_FILE[info.dtype];
      if (!dtype) {
        throw new TrainingError(`[loadOptimizerState] "${info.name}" has unsupported dtype ${info.dtype}`);
      }
      const { data, shape } = file.readSync(info.name);
      state.set(info.name, tensor(data as Float32Array | Float64Array, { shape, dtype }));
    }
    const dict: OptimizerStateDict = {
      optimizer: kind,
      state,
      paramGroups: JSON.parse(param_groups) as ParamGroupState[],
    };
    optimizer.loadStateDict(dict);
    if (scheduler && schedulerJson !== undefined) {
      scheduler.loadStateDict(JSON.parse(schedulerJson) as LrSchedulerState);
    }
    return { step: step === undefined ? undefined : Number(step), metadata: rest };
  } finally {
    file.close();
  }
}
