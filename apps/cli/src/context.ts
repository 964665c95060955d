import type { Command } from 'commander';
import { ProgressBar, type ProgressOptions } from './progress.js';

/** Options every command accepts (declared once on the program). */
export interface GlobalOptions {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly progress: boolean;
  readonly backend: string;
}

/**
 * What a command writes and where: human text to stdout (or nothing with `--json`, where the command's
 * result object is printed once at the end), diagnostics to stderr, progress bars to stderr only when it
 * is a terminal.
 */
export class CommandContext {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly #progress: 'bar' | 'lines' | 'silent';
  readonly warnings: string[] = [];

  constructor(
    options: GlobalOptions,
    readonly stdout: NodeJS.WriteStream = process.stdout,
    readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {
    this.json = options.json;
    this.verbose = options.verbose;
    // --no-progress and --json silence progress entirely; otherwise a bar on a terminal, lines elsewhere.
    this.#progress = !options.progress || options.json ? 'silent' : stderr.isTTY ? 'bar' : 'lines';
  }

  static of(command: Command): CommandContext {
    const options = command.optsWithGlobals() as Partial<GlobalOptions>;
    return new CommandContext({
      json: Boolean(options.json),
      verbose: Boolean(options.verbose),
      progress: options.progress !== false,
      backend: options.backend ?? 'auto',
    });
  }

  /** A line of human output (suppressed with --json). */
  print(line = ''): void {
    if (!this.json) this.stdout.write(`${line}\n`);
  }

  /** A diagnostic line, only with --verbose. */
  debug(line: string): void {
    if (this.verbose) this.stderr.write(`${line}\n`);
  }

  /** A warning: on stderr in human mode, collected into the result with --json. */
  warn(line: string): void {
    this.warnings.push(line);
    if (!this.json) this.stderr.write(`warning: ${line}\n`);
  }

  /** Prints the result object (only with --json). */
  result(value: Record<string, unknown>): void {
    if (!this.json) return;
    const withWarnings = this.warnings.length ? { ...value, warnings: this.warnings } : value;
    this.stdout.write(`${JSON.stringify(withWarnings, null, 2)}\n`);
  }

  /**
   * A progress bar on stderr when it is a terminal; otherwise (pipes, CI logs) a plain line at every
   * tenth of the work in human mode, and nothing with --json or --no-progress.
   */
  progress(options: ProgressOptions): ProgressBar {
    return new ProgressBar(options, this.stderr, this.#progress);
  }
}
