import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubCacheDir, hubToken } from './hub-cache.js';
import { downloadModel, isHubModelId } from './hub-download.js';
import { startTestHub, type TestHub } from './hub-test-server.js';

const folder = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-data', 'chat-qwen2', 'model');
const REPO = 'lorakit-test/tiny-qwen2';
const COMMIT = 'aaaaaaaa0123456789abcdef0123456789abcdef';
const TOKEN = 'hf_test_token';
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('downloadModel against a local Hub', () => {
  let hub: TestHub;
  let cacheDir: string;
  const resolves = () => hub.requests.filter((r) => r.path.includes('/resolve/'));
  beforeAll(async () => {
    hub = await startTestHub({
      repoId: REPO,
      folder,
      commit: COMMIT,
      token: TOKEN,
      extra: { 'README.md': '# tiny', 'pytorch_model.bin': 'not wanted' },
    });
    cacheDir = mkdtempSync(join(tmpdir(), 'lorakit-hub-'));
  });
  afterAll(() => hub.close());

  it('writes the Hugging Face cache layout, resuming a cut download, and reuses it afterwards', async () => {
    hub.cutNext('model.safetensors', 50_000);
    const options = { cacheDir, hubUrl: hub.url, token: TOKEN, offline: false };
    await expect(downloadModel(REPO, options)).rejects.toThrow();
    const weightsSha = sha256(join(folder, 'model.safetensors'));
    const partial = join(cacheDir, 'models--lorakit-test--tiny-qwen2', 'blobs', `${weightsSha}.incomplete`);
    expect(statSync(partial).size).toBe(50_000);

    const progress: [number, number][] = [];
    const snapshot = await downloadModel(REPO, {
      ...options,
      onProgress: (done, total) => progress.push([done, total]),
    });
    const repoDir = join(cacheDir, 'models--lorakit-test--tiny-qwen2');
    expect(snapshot).toBe(join(repoDir, 'snapshots', COMMIT));
    expect(readFileSync(join(repoDir, 'refs', 'main'), 'utf8')).toBe(COMMIT);
    // The second attempt asked only for the missing bytes, and the progress counted the kept ones.
    const weightRequests = resolves().filter((r) => r.path.endsWith('/model.safetensors'));
    expect(weightRequests.map((r) => r.range)).toEqual([
      'bytes=0-0', // @huggingface/hub's probe for size and ETag
      undefined, // the whole file, cut after 50,000 bytes
      'bytes=0-0',
      'bytes=50000-126271',
    ]);
    const [done, total] = progress.at(-1)!;
    expect(done).toBe(total);
    expect(total).toBeGreaterThanOrEqual(statSync(join(folder, 'model.safetensors')).size);
    // Snapshot entries are relative links to blobs named by LFS sha256 (weights) or git blob id (the rest).
    expect(readlinkSync(join(snapshot, 'model.safetensors'))).toBe(`../../blobs/${weightsSha}`);
    expect(readlinkSync(join(snapshot, 'config.json'))).toMatch(/^\.\.\/\.\.\/blobs\/[0-9a-f]{40}$/);
    for (const name of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) {
      expect(readFileSync(join(snapshot, name))).toEqual(readFileSync(join(folder, name)));
    }
    expect(existsSync(join(snapshot, 'README.md'))).toBe(false);
    expect(existsSync(join(snapshot, 'pytorch_model.bin'))).toBe(false);
    expect(hub.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);

    const before = resolves().length;
    expect(await downloadModel(REPO, { ...options, revision: COMMIT })).toBe(snapshot);
    expect(resolves().length).toBe(before);
  });

  it('answers from the cache alone when offline, and says what is missing', async () => {
    const seen = hub.requests.length;
    const snapshot = await downloadModel(REPO, { cacheDir, offline: true });
    expect(snapshot).toBe(join(cacheDir, 'models--lorakit-test--tiny-qwen2', 'snapshots', COMMIT));
    expect(hub.requests.length).toBe(seen);
    await expect(downloadModel(REPO, { cacheDir, offline: true, revision: 'v2' })).rejects.toThrow(
      `--model ${REPO}: offline (HF_HUB_OFFLINE=1) and the Hugging Face cache has no snapshot of revision "v2" (looked in ${join(cacheDir, 'models--lorakit-test--tiny-qwen2', 'refs', 'v2')}); download it once without HF_HUB_OFFLINE, or pass a model folder`,
    );
  });

  it('names the revision, the endpoint and HF_TOKEN when the Hub refuses', async () => {
    await expect(
      downloadModel(REPO, { cacheDir, hubUrl: hub.url, token: TOKEN, offline: false, revision: 'v9' }),
    ).rejects.toThrow(`--model ${REPO}: cannot read revision "v9" from ${hub.url} (`);
    await expect(downloadModel(REPO, { cacheDir, hubUrl: hub.url, offline: false })).rejects.toThrow(
      /; for a private or gated model set HF_TOKEN; set HF_HUB_OFFLINE=1 to use the cache only$/,
    );
  });
});

describe('Hub ids and the cache folder', () => {
  it('takes org/name as a Hub id unless such a folder exists', () => {
    expect(isHubModelId('Qwen/Qwen2.5-0.5B-Instruct')).toBe(true);
    expect(isHubModelId('./model')).toBe(false);
    expect(isHubModelId('a/b/c')).toBe(false);
    expect(isHubModelId('../x')).toBe(false);
    expect(isHubModelId('src/hub')).toBe(false); // an existing folder (the tests run in apps/cli)
  });

  it("follows huggingface_hub's environment variables", () => {
    expect(hubCacheDir({ HF_HUB_CACHE: '/c' })).toBe('/c');
    expect(hubCacheDir({ HF_HOME: '/h' })).toBe('/h/hub');
    expect(hubCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/huggingface/hub');
  });

  it('reads the token from HF_TOKEN, else from the file `hf auth login` writes', () => {
    const home = mkdtempSync(join(tmpdir(), 'lorakit-hf-home-'));
    expect(hubToken({ HF_HOME: home })).toBeUndefined();
    writeFileSync(join(home, 'token'), 'hf_from_file\n');
    expect(hubToken({ HF_HOME: home })).toBe('hf_from_file');
    expect(hubToken({ HF_HOME: home, HF_TOKEN: 'hf_env' })).toBe('hf_env');
  });
});
