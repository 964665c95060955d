import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { fileDownloadInfo } from '@huggingface/hub';
import { CliError } from '../errors.js';
import { cachedSnapshot, hubCacheDir, hubOffline, hubToken, repoFolder } from './hub-cache.js';

/** The files of a model repository that lorakit reads (weights, configs, tokenizer, chat template). */
const WANTED =
  /^(config\.json|generation_config\.json|[^/]+\.safetensors|model\.safetensors\.index\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|chat_template\.jinja)$/;

export interface HubDownloadOptions {
  /** Branch, tag or commit (default "main"). */
  readonly revision?: string;
  /** Default: the HF_ENDPOINT environment variable, else https://huggingface.co. */
  readonly hubUrl?: string;
  /** Default: HF_TOKEN, HUGGING_FACE_HUB_TOKEN or the token file of `hf auth login` (see hubToken). */
  readonly token?: string;
  /** Default: huggingface_hub's cache folder (see hubCacheDir). */
  readonly cacheDir?: string;
  /** Default: HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE. */
  readonly offline?: boolean;
  /** Called with the bytes to fetch once known, then with the bytes fetched so far. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Called once per file that is fetched (not for files already in the cache). */
  readonly onFile?: (path: string, size: number) => void;
}

/** A Hub model id, `org/name` — only when no local folder of that name exists. */
export function isHubModelId(model: string): boolean {
  return (
    !existsSync(model) && /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/.test(model) && !model.includes('..')
  );
}

interface RepoFile {
  readonly path: string;
  readonly size: number;
  /** The cache's blob name: the LFS sha256 for LFS files, else the git blob id (huggingface_hub's etag). */
  readonly etag: string;
  /** The content's sha256 when the Hub gives it (LFS files), checked after the download. */
  readonly sha256?: string;
}

/**
 * Downloads the files lorakit needs of Hub model `repoId` into the Hugging Face cache layout
 * (models--org--name/{blobs,snapshots/<commit>,refs/<revision>}), with @huggingface/hub, Hugging Face's
 * JavaScript client, and returns the snapshot folder. Files already in the cache are reused; a partial
 * download (blobs/<etag>.incomplete) continues where it stopped with an HTTP range request; LFS files are
 * checked against their sha256. With `offline`, the cache alone answers (no network).
 */
export async function downloadModel(repoId: string, options: HubDownloadOptions = {}): Promise<string> {
  const revision = options.revision ?? 'main';
  const cacheDir = options.cacheDir ?? hubCacheDir();
  if (options.offline ?? hubOffline()) return cachedSnapshot(cacheDir, repoId, revision);
  const hubUrl = (options.hubUrl ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/$/, '');
  const accessToken = options.token ?? hubToken();
  const credentials = { hubUrl, ...(accessToken ? { accessToken } : {}) };
  const repo = { type: 'model' as const, name: repoId };
  // Loaded only for Hub ids: the client adds a few hundred ms to the start of every command otherwise.
  const { listFiles, modelInfo } = await import('@huggingface/hub');

  let commit: string;
  const files: RepoFile[] = [];
  try {
    const info = await modelInfo({ ...credentials, name: repoId, revision, additionalFields: ['sha'] });
    commit = info.sha as string;
    for await (const entry of listFiles({ ...credentials, repo, revision: commit, recursive: false })) {
      if (entry.type !== 'file' || !WANTED.test(entry.path)) continue;
      const etag = entry.lfs?.oid ?? entry.oid;
      if (!etag) throw new Error(`the file list gives no id for ${entry.path}`);
      files.push({
        path: entry.path,
        size: entry.lfs?.size ?? entry.size,
        etag,
        sha256: entry.lfs?.oid,
      });
    }
  } catch (cause) {
    throw new CliError(
      `--model ${repoId}: cannot read revision "${revision}" from ${hubUrl} (${(cause as Error).message})${accessToken ? '' : '; for a private or gated model set HF_TOKEN'}; set HF_HUB_OFFLINE=1 to use the cache only`,
      { cause },
    );
  }
  if (!files.some((file) => file.path === 'config.json' || file.path.endsWith('.safetensors'))) {
    throw new CliError(
      `--model ${repoId}: revision "${revision}" has no config.json or .safetensors weights (lorakit reads safetensors checkpoints); files found: ${files.map((f) => f.path).join(', ') || 'none'}`,
    );
  }
  const folder = repoFolder(cacheDir, repoId);
  const snapshot = join(folder, 'snapshots', commit);
  if (revision !== commit) {
    mkdirSync(join(folder, 'refs', dirname(revision)), { recursive: true });
    writeFileSync(join(folder, 'refs', revision), commit);
  }
  mkdirSync(join(folder, 'blobs'), { recursive: true });
  const missing = files.filter((file) => !existsSync(join(snapshot, file.path)));
  const blobPath = (file: RepoFile) => join(folder, 'blobs', file.etag);
  const toFetch = missing.filter((file) => !existsSync(blobPath(file)));
  const total = toFetch.reduce((sum, file) => sum + file.size, 0);
  let done = 0;
  options.onProgress?.(0, total);
  for (const file of missing) {
    const blob = blobPath(file);
    if (!existsSync(blob)) {
      options.onFile?.(file.path, file.size);
      await fetchBlob({ ...credentials, repo, path: file.path, revision: commit }, file, blob, (bytes) => {
        done += bytes;
        options.onProgress?.(done, total);
      });
    }
    const pointer = join(snapshot, file.path);
    mkdirSync(dirname(pointer), { recursive: true });
    // Relative links, as huggingface_hub makes them, so the cache folder can be moved.
    if (!isLink(pointer)) symlinkSync(relative(dirname(pointer), blob), pointer);
  }
  return snapshot;
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Fetches one file into blobs/<etag>, resuming a partial `.incomplete` file and checking size and sha256. */
async function fetchBlob(
  params: Parameters<typeof fileDownloadInfo>[0],
  file: RepoFile,
  blob: string,
  onBytes: (bytes: number) => void,
): Promise<void> {
  const incomplete = `${blob}.incomplete`;
  let have = existsSync(incomplete) ? statSync(incomplete).size : 0;
  if (have > file.size) have = 0;
  const hash = createHash('sha256');
  if (have > 0 && file.sha256) {
    for await (const chunk of createReadStream(incomplete)) hash.update(chunk as Buffer);
  }
  onBytes(have);
  if (have < file.size) {
    const { downloadFile, fileDownloadInfo } = await import('@huggingface/hub');
    const info = await fileDownloadInfo(params);
    if (!info) throw new CliError(`--model ${params.repo}: the Hub lists ${file.path} but does not serve it`);
    const remote = await downloadFile({ ...params, downloadInfo: info });
    if (!remote) throw new CliError(`--model ${params.repo}: the Hub does not serve ${file.path}`);
    const body = (have > 0 ? remote.slice(have) : remote).stream();
    const out = createWriteStream(incomplete, { flags: have > 0 ? 'a' : 'w' });
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
        hash.update(chunk);
        have += chunk.byteLength;
        onBytes(chunk.byteLength);
      }
    } finally {
      await new Promise<void>((resolve, reject) =>
        out.end((error?: Error | null) => (error ? reject(error) : resolve())),
      );
    }
  }
  if (have !== file.size) {
    throw new CliError(
      `--model: ${file.path} stopped at ${have} of ${file.size} bytes; run again to continue the download`,
    );
  }
  if (file.sha256 && hash.digest('hex') !== file.sha256) {
    renameSync(incomplete, `${incomplete}.corrupt`);
    throw new CliError(
      `--model: ${file.path} does not match its sha256 ${file.sha256} (kept as ${incomplete}.corrupt); run again to download it anew`,
    );
  }
  renameSync(incomplete, blob);
}
