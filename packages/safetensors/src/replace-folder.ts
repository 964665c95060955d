import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { describeFsError } from './byte-source.js';
import { SafetensorsWriteError } from './errors.js';
import { parseTemporaryName, staleTemporaries, temporaryName } from './temp-names.js';

export interface ReplaceFolderOptions {
  /**
   * Whether an entry of the existing folder belongs to the set being replaced (its path relative to the
   * folder, `/`-separated). Entries that do not — a README, other adapters' subfolders, training logs —
   * are carried into the new folder (hard links, or copies where links fail); owned entries the new set
   * does not write again disappear with the old folder.
   */
  readonly owns: (relativePath: string) => boolean;
  /** Names the operation in error messages (default "safetensors.write"). */
  readonly operation?: string;
}

/**
 * Replaces the folder `dir` as a whole, so that readers see either the old set of files or the new one,
 * never a mix (a checkpoint's shards with its index, an adapter's weights with its config):
 *
 * 1. `produce` writes the new set into a sibling folder `.<dir>.lorakit-new-<pid>-<tag>`;
 * 2. entries of the old folder that the new set does not own are hard-linked into it;
 * 3. every file and folder is fsynced;
 * 4. the old folder is renamed to `.<dir>.lorakit-old-<pid>-<tag>`, the new one to `dir`, the parent is
 *    fsynced and the old folder removed.
 *
 * A kill before step 4 leaves the old folder untouched; a kill between the two renames leaves `dir`
 * absent and the old folder intact under its `lorakit-old` name, which the next call restores before it
 * starts. Temporary folders of killed calls are removed by the next call into the same place. Missing
 * parent folders are created one level at a time (Node 20's recursive mkdir hangs under /proc).
 */
export async function replaceFolder(
  dir: string,
  produce: (staging: string) => Promise<void> | void,
  options: ReplaceFolderOptions,
): Promise<void> {
  const operation = options.operation ?? 'safetensors.write';
  const target = resolve(dir);
  const parent = dirname(target);
  const name = basename(target);
  const fail = (reason: string, cause?: unknown): never => {
    throw new SafetensorsWriteError(`[${operation}] cannot write ${dir}: ${reason}`, { cause });
  };
  if (existsSync(target) && !statSync(target).isDirectory()) fail('it is a file, expected a folder');
  const cwd = process.cwd();
  if (cwd === target || cwd.startsWith(`${target}${sep}`)) {
    fail(
      'it is (or holds) the current working folder, which a swap would delete under this process; write into a subfolder',
    );
  }
  makeFolders(parent, fail);
  recoverInterrupted(parent, name);
  for (const stale of staleTemporaries(parent, name)) rmSync(stale.path, { recursive: true, force: true });

  const staging = join(parent, temporaryName(name, 'lorakit-new'));
  try {
    mkdirSync(staging);
  } catch (cause) {
    fail(`cannot create a folder beside it in ${parent} (${describeFsError(cause)})`, cause);
  }
  try {
    await produce(staging);
    if (existsSync(target)) carryOver(target, staging, '', options.owns);
    syncTree(staging);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
  if (!existsSync(target)) {
    renameSync(staging, target);
    syncFolder(parent);
    return;
  }
  const old = join(parent, temporaryName(name, 'lorakit-old'));
  try {
    renameSync(target, old);
  } catch (cause) {
    rmSync(staging, { recursive: true, force: true });
    fail(
      `cannot replace the folder as a whole (${describeFsError(cause)}; a mount point?); write into a subfolder instead`,
      cause,
    );
  }
  renameSync(staging, target);
  syncFolder(parent);
  rmSync(old, { recursive: true, force: true });
}

/**
 * Creates `folder` and its missing parents one level at a time, failing fast with a clear message
 * where a level cannot be created (a file in the way, a read-only or virtual file system).
 */
export function makeFolders(folder: string, fail: (reason: string, cause?: unknown) => never): void {
  const missing: string[] = [];
  let current = resolve(folder);
  while (!existsSync(current)) {
    missing.unshift(current);
    const up = dirname(current);
    if (up === current) break;
    current = up;
  }
  if (existsSync(current) && !statSync(current).isDirectory()) fail(`${current} is a file, not a folder`);
  for (const level of missing) {
    try {
      mkdirSync(level);
    } catch (cause) {
      fail(`cannot create the folder ${level} (${describeFsError(cause)})`, cause);
    }
  }
}

/** A kill between the two renames left `name` absent and its previous version as `lorakit-old`: restore it. */
function recoverInterrupted(parent: string, name: string): void {
  if (existsSync(join(parent, name))) return;
  const backups = staleTemporaries(parent, name).filter((s) => s.kind === 'lorakit-old');
  if (backups.length === 1) renameSync(backups[0]!.path, join(parent, name));
}

/** Links entries of `from` that `owns` rejects into `to`, recursing into folders that both have. */
function carryOver(from: string, to: string, prefix: string, owns: (relativePath: string) => boolean): void {
  for (const entry of readdirSync(from)) {
    const relative = prefix ? `${prefix}/${entry}` : entry;
    if (parseTemporaryName(entry) || owns(relative)) continue;
    const source = join(from, entry);
    const destination = join(to, entry);
    const stat = lstatSync(source);
    if (stat.isDirectory()) {
      if (!existsSync(destination)) mkdirSync(destination);
      else if (!statSync(destination).isDirectory()) continue;
      carryOver(source, destination, relative, owns);
    } else if (!existsSync(destination)) {
      try {
        linkSync(source, destination);
      } catch {
        try {
          copyFileSync(source, destination);
        } catch (cause) {
          throw new SafetensorsWriteError(
            `[safetensors.write] cannot keep ${source} in the new version of ${from} (${describeFsError(cause)}); nothing was changed`,
            { cause },
          );
        }
      }
    }
  }
}

function syncFolder(folder: string): void {
  const fd = openSync(folder, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsyncs every file and folder under `folder` (writers fsync their files; links and copies need it). */
function syncTree(folder: string): void {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) syncTree(path);
    else if (entry.isFile()) syncFolder(path);
  }
  syncFolder(folder);
}

/**
 * Where the previous version of `dir` sits after a save was killed between its two renames (`dir` is
 * then absent), for messages that tell the user; undefined when there is none.
 */
export function interruptedBackup(dir: string): string | undefined {
  const target = resolve(dir);
  if (existsSync(target)) return undefined;
  return staleTemporaries(dirname(target), basename(target)).find((s) => s.kind === 'lorakit-old')?.path;
}
