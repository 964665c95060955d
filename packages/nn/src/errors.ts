import { LorakitError } from '@lorakit/tensor';

export { listNames } from '@lorakit/tensor';

/** Module-tree problems: unknown submodule paths, state-dict mismatches, bad layer arguments. */
export class ModuleError extends LorakitError {}

/** `loadStateDict` found missing or unexpected keys, or shape mismatches (all listed in the message). */
export class StateDictError extends ModuleError {
  constructor(
    message: string,
    readonly missing: readonly string[] = [],
    readonly unexpected: readonly string[] = [],
    readonly mismatched: readonly string[] = [],
  ) {
    super(message);
  }
}

/** Optimizer and training-loop misuse. */
export class TrainingError extends LorakitError {}

/** `a, b, c` for messages, shortened after `limit` names; `(none)` when empty. */
