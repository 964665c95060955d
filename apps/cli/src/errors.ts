import { LorakitError } from '@lorakit/safetensors';

/** Exit codes of the lorakit command. */
export const EXIT = {
  ok: 0,
  /** Something failed that is not the caller's input (a bug, an I/O error, an interrupted write). */
  failure: 1,
  /** Bad input: flags, missing paths, invalid configs, an adapter that does not fit the model. */
  badInput: 2,
  /** Interrupted (Ctrl-C) after saving what could be saved. */
  interrupted: 130,
} as const;

/** An error the CLI reports as one line and an exit code (bad input unless said otherwise). */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = options.exitCode ?? EXIT.badInput;
  }
}

/**
 * The exit code and one-line message for any error. Library errors (`LorakitError` and subclasses:
 * configs, checkpoints, adapters that do not fit) are the caller's input; anything else is a failure.
 */
export function describeError(error: unknown): { message: string; exitCode: number } {
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  if (error instanceof LorakitError) return { message: firstLine(error.message), exitCode: EXIT.badInput };
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
      return { message: firstLine(error.message), exitCode: EXIT.badInput };
    }
    return { message: firstLine(error.message), exitCode: EXIT.failure };
  }
  return { message: String(error), exitCode: EXIT.failure };
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
