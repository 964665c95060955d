import { isFloating, noGrad, Tensor, tensor, tidy } from '@lorakit/tensor';
import { listNames, TrainingError } from '../errors.js';

/** The hyperparameters every optimizer has in each parameter group. */
export interface BaseGroupOptions {
  /** Learning rate. Schedulers overwrite it before each step. */
  lr: number;
  weightDecay: number;
}

/** A parameter group as given to a constructor: its tensors and the hyperparameters that differ. */
export type ParamGroupInput<O extends BaseGroupOptions> = { readonly params: Iterable<Tensor> } & Partial<O>;

/** What an optimizer optimizes: a flat list of tensors (one group) or a list of groups. */
export type ParamsInput<O extends BaseGroupOptions> = Iterable<Tensor> | readonly ParamGroupInput<O>[];

/** A group as the optimizer holds it. Hyperparameters are mutable: a scheduler sets `lr`. */
export type ParamGroup<O extends BaseGroupOptions> = O & { readonly params: readonly Tensor[] };

/**
 * The state of one parameter: how many updates it has received and its named buffers (`exp_avg`,
 * `momentum_buffer`, …; PyTorch's names). Buffers are updated in place, so a state dict taken earlier
 * sees later values, as in PyTorch.
 */
export interface ParamState {
  step: number;
  readonly buffers: Map<string, Tensor>;
}

/** A JSON value that a group hyperparameter may take. */
export type HyperparameterValue = number | boolean | readonly number[];

/** A group in a state dict: its hyperparameters and the indices of its parameters. */
export interface ParamGroupState {
  readonly params: readonly number[];
  readonly [option: string]: HyperparameterValue;
}

/**
 * An optimizer's state as named tensors plus JSON, ready for a safetensors file: tensors are named
 * `state.<index>.<buffer>` where `index` numbers the parameters across groups in order (PyTorch's
 * numbering) and `buffer` is PyTorch's name (`exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`,
 * `momentum_buffer`); optimizers that count steps add `state.<index>.step` as a float32 scalar, as
 * PyTorch stores it.
 */
export interface OptimizerStateDict {
  /** The optimizer's class name (`AdamW`, `SGD`); loading into another kind is an error. */
  readonly optimizer: string;
  readonly state: Map<string, Tensor>;
  readonly paramGroups: readonly ParamGroupState[];
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (value instanceof Tensor) return `a Tensor of shape [${value.shape.join(', ')}]`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `a ${(value as object).constructor?.name ?? 'object'}`;
  return `${typeof value} ${String(value)}`;
}

function isGroupList<O extends BaseGroupOptions>(params: ParamsInput<O>): params is ParamGroupInput<O>[] {
  return (
    Array.isArray(params) &&
    params.length > 0 &&
    params.every((g) => g !== null && typeof g === 'object' && !(g instanceof Tensor) && 'params' in g)
  );
}

/**
 * The base of every optimizer: parameter groups with their hyperparameters, lazily created
 * per-parameter state, `zeroGrad`, and state dicts for resuming training.
 *
 * Only parameters that require grad and hold a gradient are updated; frozen parameters never get
 * state (the style guide's "trainable is a type"). Updates run under `noGrad` inside `tidy`, writing
 * into the parameters with `assign`, so the parameter objects — and the modules that hold them — stay
 * the same.
 */
/** One parameter to update in a step: its gradient and its state. */
export interface ParamUpdate {
  readonly param: Tensor;
  readonly grad: Tensor;
  readonly state: ParamState;
}

export abstract class Optimizer<O extends BaseGroupOptions = BaseGroupOptions> {
  readonly paramGroups: ParamGroup<O>[] = [];
  readonly defaults: Readonly<O>;
  /** Buffer names this optimizer keeps per parameter (checked when loading a state dict). */
  protected abstract readonly bufferNames: readonly string[];
  /** Whether `step` is part of the per-parameter state (Adam-like optimizers). */
  protected abstract readonly countsSteps: boolean;
  private readonly _state = new Map<Tensor, ParamState>();
  private readonly _name: string;
  private readonly _optionNames: readonly string[];

  /**
   * @param name - the class name, used in error messages and state dicts
   * @param optionNames - every hyperparameter name this optimizer accepts (others are errors)
   */
  protected constructor(name: string, params: ParamsInput<O>, defaults: O, optionNames: readonly string[]) {
    this._name = name;
    this._optionNames = optionNames;
    this.checkOptionKeys(defaults as Record<string, unknown>, '');
    this.validateOptions(defaults, '');
    this.defaults = Object.freeze({ ...defaults });
    if (params instanceof Tensor || params === null || typeof params !== 'object') {
      throw new TrainingError(
        `[${name}] params must be an iterable of tensors or of parameter groups ({ params, …options }), received ${describeValue(params)}`,
      );
    }
    const groups: ParamGroupInput<O>[] = isGroupList(params)
      ? [...params]
      : [{ params: params as Iterable<Tensor> } as ParamGroupInput<O>];
    for (const group of groups) this.addParamGroup(group);
    if (this.paramGroups.every((g) => g.params.length === 0)) {
      throw new TrainingError(`[${name}] received an empty parameter list`);
    }
  }

  /** Adds a group (fine-tuning a layer that was frozen until now). Unset options take the defaults. */
  addParamGroup(group: ParamGroupInput<O>): void {
    const index = this.paramGroups.length;
    const where = ` (parameter group ${index})`;
    if (group === null || typeof group !== 'object' || !('params' in group)) {
      throw new TrainingError(
        `[${this._name}] a parameter group must be an object with params, received ${describeValue(group)}`,
      );
    }
    const { params, ...options } = group;
    this.checkOptionKeys(options, where);
    const merged = { ...this.defaults, ...options } as O;
    this.validateOptions(merged, where);
    if (params instanceof Tensor || params === null || typeof params !== 'object') {
      throw new TrainingError(
        `[${this._name}] params of parameter group ${index} must be an iterable of tensors, received ${describeValue(params)}`,
      );
    }
    const list = [...params];
    const seen = this.locateAll();
    list.forEach((p, i) => {
      if (!(p instanceof Tensor)) {
        throw new TrainingError(
          `[${this._name}] parameter ${i} of group ${index} must be a Tensor, received ${describeValue(p)}`,
        );
      }
      if (!p.isLeaf) {
        throw new TrainingError(
          `[${this._name}] parameter ${i} of group ${index} is not a leaf tensor (it is the output of an op); optimize leaves such as Parameters`,
        );
      }
      if (!isFloating(p.dtype)) {
        throw new TrainingError(
          `[${this._name}] parameter ${i} of group ${index} has dtype ${p.dtype}; only floating-point tensors can be optimized`,
        );
      }
      const first = seen.get(p);
      if (first) {
        throw new TrainingError(
          `[${this._name}] a parameter appears more than once: group ${first[0]} index ${first[1]} and group ${index} index ${i}`,
        );
      }
      seen.set(p, [index, i]);
    });
    this.paramGroups.push({ ...merged, params: Object.freeze(list) } as ParamGroup<O>);
  }

  private locateAll(): Map<Tensor, [number, number]> {
    const out = new Map<Tensor, [number, number]>();
    this.paramGroups.forEach((g, gi) => {
      g.params.forEach((p, pi) => {
        out.set(p, [gi, pi]);
      });
    });
    return out;
  }

  private checkOptionKeys(options: Record<string, unknown>, where: string): void {
    for (const key of Object.keys(options)) {
      if (!this._optionNames.includes(key)) {
        throw new TrainingError(
          `[${this._name}] unknown option "${key}"${where}; valid options: ${this._optionNames.join(', ')}`,
        );
      }
    }
  }

  /** Throws a TrainingError for out-of-range hyperparameters; `where` names the group, if any. */
  protected abstract validateOptions(options: O, where: string): void;

  /** Updates one parameter from its gradient. Runs under noGrad inside tidy. */
  protected abstract update(param: Tensor, grad: Tensor, group: ParamGroup<O>, state: ParamState): void;

  /**
   * Updates every parameter of a group that has a gradient at once (multi-tensor optimizers); the
   * default calls {@link Optimizer.update} for each, in order.
   */
  protected updateGroup(items: readonly ParamUpdate[], group: ParamGroup<O>): void {
    for (const { param, grad, state } of items) this.update(param, grad, group, state);
  }

  /** Throws unless `value` is a finite number ≥ 0 (lr, eps, weight decay). */
  protected requireNonNegative(option: string, value: unknown, where: string): void {
    if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
      const received = typeof value === 'number' ? String(value) : describeValue(value);
      throw new TrainingError(
        `[${this._name}] ${option} must be a non-negative number, received ${received}${where}`,
      );
    }
  }

  /** Every parameter of every group, in order. */
  parameters(): Tensor[] {
    return this.paramGroups.flatMap((g) => [...g.params]);
  }

  /** The state of a parameter, or undefined before its first update. */
  stateOf(param: Tensor): ParamState | undefined {
    return this._state.get(param);
  }

  /** One update of every parameter that requires grad and has a gradient. */
  step(): void {
    noGrad(() =>
      tidy(() => {
        for (const group of this.paramGroups) {
          const items: ParamUpdate[] = [];
          for (const param of group.params) {
            if (!param.requiresGrad || param.grad === null) continue;
            let state = this._state.get(param);
            if (!state) {
              state = { step: 0, buffers: new Map() };
              this._state.set(param, state);
            }
            items.push({ param, grad: param.grad, state });
          }
          this.updateGroup(items, group);
        }
      }),
    );
  }

  /** Drops the gradients (PyTorch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    for (const group of this.paramGroups) for (const p of group.params) p.grad = null;
  }

  /** The state as named tensors (live: not copies) and JSON-ready groups. */
  stateDict(): OptimizerStateDict {
    const state = new Map<string, Tensor>();
    const paramGroups: ParamGroupState[] = [];
    let index = 0;
    for (const group of this.paramGroups) {
      const { params, ...options } = group;
      const indices: number[] = [];
      for (const p of params) {
        const s = this._state.get(p);
        if (s) {
          if (this.countsSteps) state.set(`state.${index}.step`, tensor(s.step, { dtype: 'float32' }));
          for (const [name, buffer] of s.buffers) state.set(`state.${index}.${name}`, buffer);
        }
        indices.push(index++);
      }
      paramGroups.push({ ...(options as Record<string, HyperparameterValue>), params: indices });
    }
    return { optimizer: this._name, state, paramGroups };
  }

  /**
   * Restores a state dict taken from an optimizer of the same kind over parameters of the same shapes,
   * in the same groups. Group hyperparameters are restored too (as PyTorch does); buffers are copied.
   * Nothing changes when the dict is rejected.
   */
  loadStateDict(dict: OptimizerStateDict): void {
    const name = this._name;
    if (dict.optimizer !== name) {
      throw new TrainingError(`[${name}] cannot load the state of a ${dict.optimizer} optimizer`);
    }
    if (dict.paramGroups.length !== this.paramGroups.length) {
      throw new TrainingError(
        `[${name}] the state dict has ${dict.paramGroups.length} parameter groups, this optimizer has ${this.paramGroups.length}`,
      );
    }
    const flat: { param: Tensor; group: O }[] = [];
    const groupOptions = dict.paramGroups.map((saved, gi) => {
      const own = this.paramGroups[gi]!;
      const where = ` (state dict parameter group ${gi})`;
      if (saved.params.length !== own.params.length || saved.params.some((p, k) => p !== flat.length + k)) {
        throw new TrainingError(
          `[${name}] parameter group ${gi} of the state dict holds ${saved.params.length} parameters, this optimizer's holds ${own.params.length}`,
        );
      }
      const { params: _saved, ...options } = saved;
      this.checkOptionKeys(options, where);
      const { params: _own, ...current } = own;
      const merged = { ...current, ...options } as unknown as O;
      this.validateOptions(merged, where);
      for (const param of own.params) flat.push({ param, group: merged });
      return options;
    });
    const restored = new Map<number, ParamState & { hasStep: boolean }>();
    const valid = this.countsSteps ? [...this.bufferNames, 'step'] : [...this.bufferNames];
    for (const [key, value] of dict.state) {
      const match = /^state\.(\d+)\.(.+)$/.exec(key);
      const index = match ? Number(match[1]) : -1;
      const buffer = match?.[2] ?? '';
      if (!match || index >= flat.length || !valid.includes(buffer)) {
        throw new TrainingError(
          `[${name}] unexpected state tensor "${key}"; expected state.<0…${flat.length - 1}>.<${valid.join('|')}>`,
        );
      }
      const { param } = flat[index]!;
      let s = restored.get(index);
      if (!s) {
        s = { step: 0, buffers: new Map(), hasStep: false };
        restored.set(index, s);
      }
      if (buffer === 'step') {
        if (value.size !== 1) {
          throw new TrainingError(
            `[${name}] "${key}" must hold one number, received shape [${value.shape.join(', ')}]`,
          );
        }
        s.step = value.item();
        s.hasStep = true;
        continue;
      }
      if (value.shape.length !== param.shape.length || value.shape.some((d, i) => d !== param.shape[i])) {
        throw new TrainingError(
          `[${name}] "${key}" has shape [${value.shape.join(', ')}] but parameter ${index} has shape [${param.shape.join(', ')}]`,
        );
      }
      s.buffers.set(
        buffer,
        noGrad(() => value.detach().toBackend(param.backend.name).cast(param.dtype).clone()),
      );
    }
    for (const [index, s] of restored) {
      const required = this.requiredBuffers(flat[index]!.group);
      const missing = [
        ...required.filter((b) => !s.buffers.has(b)),
        ...(this.countsSteps && !s.hasStep ? ['step'] : []),
      ];
      if (missing.length > 0) {
        throw new TrainingError(
          `[${name}] the state of parameter ${index} lacks ${listNames(missing.map((b) => `state.${index}.${b}`))}`,
        );
      }
    }
    groupOptions.forEach((options, gi) => {
      Object.assign(this.paramGroups[gi]!, options);
    });
    this._state.clear();
    for (const [index, s] of restored) {
      this._state.set(flat[index]!.param, { step: s.step, buffers: s.buffers });
    }
  }

  /** The buffers a parameter updated under these group options must have in a restored state. */
  protected abstract requiredBuffers(group: O): readonly string[];
}
