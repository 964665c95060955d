import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError } from '../errors.js';

/** A 40-hex-digit commit id (a revision that names a snapshot directly). */
export const COMMIT = /^[0-9a-f]{40}$/;

/**
 * huggingface_hub's cache folder: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
 * $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub — so Python and lorakit share downloads.
 */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HUGGINGFACE_HUB_CACHE) return env.HUGGINGFACE_HUB_CACHE;
  const home = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  return join(home, 'hub');
}

/**
 * The Hub token: HF_TOKEN, else the older HUGGING_FACE_HUB_TOKEN, else the file `hf auth login` (formerly
 * `huggingface-cli login`) writes — $HF_TOKEN_PATH, else $HF_HOME/token, else ~/.cache/huggingface/token.
 */
export function hubToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  if (fromEnv) return fromEnv;
  const home = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  const path = env.HF_TOKEN_PATH ?? join(home, 'token');
  return existsSync(path) ? readFileSync(path, 'utf8').trim() || undefined : undefined;
}

/** `models--org--name`, the folder of a model repository in the cache. */
export function repoFolder(cacheDir: string, repoId: string): string {
  return join(cacheDir, `models--${repoId.split('/').join('--')}`);
}

/** Whether HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) asks for no network, as huggingface_hub reads it. */
export function hubOffline(env: NodeJS.ProcessEnv = process.env): boolean {
  return ['HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'].some((name) =>
    ['1', 'on', 'true', 'yes'].includes((env[name] ?? '').toLowerCase()),
  );
}

/**
 * The cached snapshot folder of `repoId` at `revision` without any network access: a commit id names its
 * snapshot; a branch or tag goes through refs/<revision>. Refuses when the cache does not hold it.
 */
export function cachedSnapshot(cacheDir: string, repoId: string, revision: string): string {
  const folder = repoFolder(cacheDir, repoId);
  const refPath = join(folder, 'refs', revision);
  const commit = COMMIT.test(revision)
    ? revision
    : existsSync(refPath)
      ? readFileSync(refPath, 'utf8').trim()
      : undefined;
  const snapshot = commit && join(folder, 'snapshots', commit);
  if (!snapshot || !existsSync(join(snapshot, 'config.json'))) {
    throw new CliError(
      `--model ${repoId}: offline (HF_HUB_OFFLINE=1) and the Hugging Face cache has no snapshot of revision "${revision}" (looked in ${snapshot ?? refPath}); download it once without HF_HUB_OFFLINE, or pass a model folder`,
    );
  }
  return snapshot;
}
