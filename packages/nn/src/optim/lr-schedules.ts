import { listNames, TrainingError } from '../errors.js';
import { type LrLambda, LrScheduler } from './lr-scheduler.js';
import type { Optimizer } from './optimizer.js';

/** Lengths of a schedule, in optimizer steps. */
export interface ScheduleOptions {
  /** Steps of linear warmup from 0 to the base learning rate (default 0). */
  readonly numWarmupSteps?: number;
  /** Total optimizer steps (needed by the decaying schedules). */
  readonly numTrainingSteps?: number;
  /** Cosine only: number of waves (default 0.5, a half-cosine from 1 down to 0). */
  readonly numCycles?: number;
}

/** Builds the multiplier of a named schedule from its lengths. */
export type ScheduleFactory = (options: ScheduleOptions) => LrLambda;

function warmupSteps(schedule: string, options: ScheduleOptions): number {
  const n = options.numWarmupSteps ?? 0;
  if (!Number.isInteger(n) || n < 0) {
    throw new TrainingError(
      `[${schedule} schedule] numWarmupSteps must be a non-negative integer, received ${n}`,
    );
  }
  return n;
}

function trainingSteps(schedule: string, options: ScheduleOptions): number {
  const n = options.numTrainingSteps;
  if (n === undefined || !Number.isInteger(n) || n <= 0) {
    throw new TrainingError(
      `[${schedule} schedule] numTrainingSteps must be a positive integer, received ${n}`,
    );
  }
  return n;
}

// The formulas below are transformers' `_get_*_lr_lambda` functions (optimization.py), term by term,
// so the learning rates are the same doubles.

/** A constant multiplier of 1 (transformers' `get_constant_schedule`). */
export function constantSchedule(): LrLambda {
  return () => 1;
}

/** Linear warmup from 0, then 1 (`get_constant_schedule_with_warmup`). */
export function constantScheduleWithWarmup(options: ScheduleOptions): LrLambda {
  const warmup = warmupSteps('constant_with_warmup', options);
  return (step) => (step < warmup ? step / Math.max(1, warmup) : 1);
}

/** Linear warmup from 0 to 1, then linear decay to 0 at `numTrainingSteps` (`get_linear_schedule_with_warmup`). */
export function linearScheduleWithWarmup(options: ScheduleOptions): LrLambda {
  const warmup = warmupSteps('linear', options);
  const total = trainingSteps('linear', options);
  return (step) => {
    if (step < warmup) return step / Math.max(1, warmup);
    return Math.max(0, (total - step) / Math.max(1, total - warmup));
  };
}

/**
 * Linear warmup from 0 to 1, then a cosine from 1 to 0 over the remaining steps
 * (`get_cosine_schedule_with_warmup`; `numCycles` 0.5 is a half wave).
 */
export function cosineScheduleWithWarmup(options: ScheduleOptions): LrLambda {
  const warmup = warmupSteps('cosine', options);
  const total = trainingSteps('cosine', options);
  const cycles = options.numCycles ?? 0.5;
  if (!(typeof cycles === 'number' && cycles > 0 && Number.isFinite(cycles))) {
    throw new TrainingError(`[cosine schedule] numCycles must be a positive number, received ${cycles}`);
  }
  return (step) => {
    if (step < warmup) return step / Math.max(1, warmup);
    const progress = (step - warmup) / Math.max(1, total - warmup);
    return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
  };
}

const registry = new Map<string, ScheduleFactory>();

/**
 * Registers a schedule under a name (transformers' `lr_scheduler_type` names are built in:
 * `constant`, `constant_with_warmup`, `linear`, `cosine`). Registering a name twice throws.
 */
export function registerLrSchedule(name: string, factory: ScheduleFactory): void {
  if (registry.has(name)) throw new TrainingError(`[registerLrSchedule] "${name}" is already registered`);
  registry.set(name, factory);
}

/** Names of the registered schedules. */
export function listLrSchedules(): string[] {
  return [...registry.keys()];
}

/**
 * A scheduler for a named schedule (transformers' `get_scheduler`). Unknown names list the registered
 * ones.
 */
export function createLrScheduler(
  name: string,
  optimizer: Optimizer,
  options: ScheduleOptions = {},
): LrScheduler {
  const factory = registry.get(name);
  if (!factory) {
    throw new TrainingError(
      `[createLrScheduler] unknown schedule "${name}"; registered: ${listNames(listLrSchedules())}`,
    );
  }
  return new LrScheduler(optimizer, factory(options));
}

registerLrSchedule('constant', constantSchedule);
registerLrSchedule('constant_with_warmup', constantScheduleWithWarmup);
registerLrSchedule('linear', linearScheduleWithWarmup);
registerLrSchedule('cosine', cosineScheduleWithWarmup);
