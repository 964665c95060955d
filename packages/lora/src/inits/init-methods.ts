import type { AnyModule } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import type { LoraConfig } from '../config/lora-config.js';
import { RegistryError } from '../errors.js';
import type { PeftModel } from '../model/peft-model.js';

/**
 * One input an init method takes besides the LoRA config. Front ends offer it as an option: the lorakit
 * CLI's `init` command adds `--<name>`.
 */
export interface InitMethodInput {
  /** kebab-case, e.g. `loftq-bits`; values reach {@link InitMethod.configure} under this key. */
  readonly name: string;
  readonly description: string;
  readonly type: 'integer' | 'string';
  /** Smallest accepted integer (integer inputs). */
  readonly min?: number;
  /** The accepted values (string inputs). */
  readonly choices?: readonly string[];
  /** Used when the user gives none; without one the value is `undefined`. */
  readonly default?: number | string;
}

/** The inputs' values by name, already checked against {@link InitMethodInput}. */
export type InitMethodValues = Readonly<Record<string, number | string | undefined>>;

/** Calibration data a front end prepares (tokenized) for methods with `calibration: true`. */
export interface InitCalibration {
  /** One forward input per example: `{ inputIds }` of shape [1, length] (int64). */
  readonly sequences: readonly { readonly inputIds: Tensor }[];
  /** The examples padded into batches: `{ inputIds, attentionMask, labels }` [batch, length]. */
  readonly batches: readonly {
    readonly inputIds: Tensor;
    readonly attentionMask: Tensor;
    readonly labels: Tensor;
  }[];
}

/** A progress display for long steps (a bar in a terminal, nothing elsewhere). */
export interface InitProgress {
  setTotal(total: number): void;
  update(done: number, detail?: string): void;
  finish(): void;
}

/** What an init method's steps get from the front end. */
export interface InitMethodRun {
  readonly values: InitMethodValues;
  /** Present when the method declares `calibration: true`. */
  readonly calibration?: InitCalibration;
  log(line: string): void;
  progress(label: string): InitProgress;
}

/**
 * How a front end offers an init to users: a name, its inputs, and the steps around injection. Plugins
 * register one per user-facing method next to their {@link InitStrategy} (which does the work per layer
 * and says whether it rewrites the base weight), so a new init appears in the CLI without editing it.
 *
 * The front end: builds the LoRA config from its own options, calls `configure`, loads the model,
 * runs `beforeInjection`, calls `getPeftModel`, runs `afterInjection`, saves the adapter — and, when the
 * registered strategy of the resulting `init_lora_weights` has `modifiesBaseWeight`, the residual base.
 */
export interface InitMethod {
  /** The name users type (`--method <name>`), e.g. `pissa`. */
  readonly name: string;
  /** One line for help texts. */
  readonly summary: string;
  readonly inputs?: readonly InitMethodInput[];
  /** Whether the method needs calibration data (CorDA, EVA). */
  readonly calibration?: boolean;
  /** Sets `init_lora_weights` and the method's sub-config (e.g. `loftq_config`) from the inputs. */
  configure(config: LoraConfig, values: InitMethodValues): void;
  /** Runs on the base model before the adapter is injected (CorDA's covariances). */
  beforeInjection?(model: AnyModule, config: LoraConfig, run: InitMethodRun): Promise<void>;
  /** Runs on the injected model (EVA's data pass). */
  afterInjection?(peft: PeftModel, run: InitMethodRun): Promise<void>;
}

const methods = new Map<string, InitMethod>();
const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

function checkInput(method: string, input: InitMethodInput): void {
  const where = `[registerInitMethod] "${method}" input "${input.name}"`;
  if (!KEBAB.test(input.name)) {
    throw new RegistryError(`${where}: the name must be kebab-case (e.g. "loftq-bits")`);
  }
  if (input.type !== 'integer' && input.type !== 'string') {
    throw new RegistryError(
      `${where}: type must be 'integer' or 'string', received ${JSON.stringify(input.type)}`,
    );
  }
  if (
    input.default !== undefined &&
    typeof input.default !== (input.type === 'integer' ? 'number' : 'string')
  ) {
    throw new RegistryError(
      `${where}: default ${JSON.stringify(input.default)} is not of type ${input.type}`,
    );
  }
}

/** Registers how front ends offer an init (see {@link InitMethod}); names are unique. */
export function registerInitMethod(method: InitMethod): void {
  if (!KEBAB.test(method.name)) {
    throw new RegistryError(
      `[registerInitMethod] method names are kebab-case (they are typed on command lines), received ${JSON.stringify(method.name)}`,
    );
  }
  if (methods.has(method.name)) {
    throw new RegistryError(
      `[registerInitMethod] an init method named "${method.name}" is already registered; registered: ${[...methods.keys()].join(', ')}`,
    );
  }
  const seen = new Set<string>();
  for (const input of method.inputs ?? []) {
    checkInput(method.name, input);
    if (seen.has(input.name)) {
      throw new RegistryError(`[registerInitMethod] "${method.name}" declares input "${input.name}" twice`);
    }
    seen.add(input.name);
  }
  methods.set(method.name, method);
}

/** Removes a method (tests; replacing one deliberately). */
export function unregisterInitMethod(name: string): void {
  methods.delete(name);
}

/** The registered init methods, in registration order. */
export function registeredInitMethods(): InitMethod[] {
  return [...methods.values()];
}

/** The method named `name`; throws listing the registered ones when there is none. */
export function getInitMethod(name: string): InitMethod {
  const method = methods.get(name);
  if (!method) {
    throw new RegistryError(
      `[getInitMethod] no init method named ${JSON.stringify(name)}; registered: ${[...methods.keys()].join(', ') || '(none: import a plugin package that registers one)'}`,
    );
  }
  return method;
}
