import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Names of the temporary files and folders lorakit's writers create, and their clean-up.
 *
 * Every temporary name starts with a dot, then the final name, then a marker, the writing process's id
 * and a random tag:
 *
 * - `.<file>.tmp-<pid>-<tag>`: a file being written, renamed to `<file>` when complete;
 * - `.<folder>.lorakit-new-<pid>-<tag>`: a folder being assembled, renamed to `<folder>` when complete;
 * - `.<folder>.lorakit-old-<pid>-<tag>`: the previous `<folder>`, kept until the new one is in place.
 *
 * A process killed mid-save leaves these behind. The next save into the same place removes those whose
 * process is gone; names that do not follow this pattern are never touched, and neither are the
 * temporary files of a process that is still running (a concurrent save).
 */
export type TempKind = 'tmp' | 'lorakit-new' | 'lorakit-old';

/** A fresh temporary name for `name` in the same folder. */
export function temporaryName(name: string, kind: TempKind): string {
  return `.${name}.${kind}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

const TEMP_PATTERN = /^\.(.+)\.(tmp|lorakit-new|lorakit-old)-(\d+)-[a-z0-9]+$/;

/** Parses a temporary name: the final name it stands for, its kind and the writer's process id. */
export function parseTemporaryName(
  entry: string,
): { target: string; kind: TempKind; pid: number } | undefined {
  const match = TEMP_PATTERN.exec(entry);
  if (!match) return undefined;
  return { target: match[1]!, kind: match[2] as TempKind, pid: Number(match[3]) };
}

/** Whether a process with this id is running (signal 0 checks without sending anything). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Temporary entries for `target` in `folder` left by processes that no longer run, with their kind.
 * A folder that cannot be listed has none.
 */
export function staleTemporaries(folder: string, target: string): { path: string; kind: TempKind }[] {
  let entries: string[];
  try {
    entries = readdirSync(folder);
  } catch {
    return [];
  }
  const out: { path: string; kind: TempKind }[] = [];
  for (const entry of entries) {
    const parsed = parseTemporaryName(entry);
    if (!parsed || parsed.target !== target || processAlive(parsed.pid)) continue;
    out.push({ path: join(folder, entry), kind: parsed.kind });
  }
  return out;
}

/** Removes stale temporary entries (see {@link staleTemporaries}) of one kind; errors are ignored. */
export function removeStaleTemporaries(folder: string, target: string, kinds: readonly TempKind[]): void {
  for (const stale of staleTemporaries(folder, target)) {
    if (kinds.includes(stale.kind)) rmSync(stale.path, { recursive: true, force: true });
  }
}
