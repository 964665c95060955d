import { resolve } from 'node:path';
import { ConformanceError } from './errors.js';

export interface RunnerOptions {
  /** Case folders (absolute); empty: the default fixture folders. */
  readonly dirs: string[];
  /** Case names to run; undefined: all. */
  readonly only?: Set<string>;
  /** `js` unless `--backend` names another. */
  readonly backend: string;
}

const USAGE = 'usage: pnpm conformance [dir …] [--only case,case] [--backend auto|js|<installed backend>]';

/** Parses the runner's arguments; relative folders are taken from `cwd`. */
export function parseArguments(args: readonly string[], cwd: string): RunnerOptions {
  const dirs: string[] = [];
  let only: Set<string> | undefined;
  let backend = 'js';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--only' || arg === '--backend') {
      const value = args[++i];
      if (value === undefined || value.startsWith('--')) {
        throw new ConformanceError(`[conformance] ${arg} needs a value, received none; ${USAGE}`);
      }
      if (arg === '--only') only = new Set(value.split(','));
      else backend = value;
    } else if (arg.startsWith('--')) {
      throw new ConformanceError(`[conformance] unknown option ${arg}; options: --only, --backend; ${USAGE}`);
    } else {
      dirs.push(resolve(cwd, arg));
    }
  }
  return only ? { dirs, only, backend } : { dirs, backend };
}
