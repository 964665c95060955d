import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../src/hub/hub-test-server.js';
import { cliPath, demoBase, lorakit, packageDir, temporaryDirectory } from './run-cli.js';

// A tiny Qwen2 with Qwen2-0.5B-Instruct's chat template (test-data/chat-qwen2/make.py).
const chatModel = join(packageDir, 'test-data', 'chat-qwen2', 'model');
const TRAIN = ['--r', '4', '--alpha', '8', '--lr', '1e-2', '--batch-size', '4', '--json', '--no-plot'];

function writeChat(dir: string): string {
  const path = join(dir, 'chat.jsonl');
  const lines = Array.from({ length: 12 }, (_, i) =>
    JSON.stringify({
      messages: [
        { role: 'user', content: `What is ${i} + 3?` },
        { role: 'assistant', content: `${i} + 3 = ${i + 3}.` },
      ],
    }),
  );
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** The built CLI without blocking the event loop (the test Hub answers from this process). */
function lorakitAsync(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: packageDir,
      env: { ...process.env, LORAKIT_BACKEND: 'js', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('lorakit train on chat data', () => {
  let dir: string;
  let data: string;
  beforeAll(() => {
    dir = temporaryDirectory();
    data = writeChat(dir);
  });

  it("renders messages with the model's chat template and trains on assistant turns (or every token)", () => {
    const losses: number[] = [];
    for (const flag of ['--completion-only', '--no-completion-only']) {
      const out = join(dir, flag);
      const run = lorakit([
        'train',
        '--model',
        chatModel,
        '--data',
        data,
        ...TRAIN,
        '--max-steps',
        '2',
        flag,
        '--out',
        out,
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(true);
      losses.push(run.json<{ losses: { loss: number }[] }>().losses[0]!.loss);
    }
    // The same data and seed: only the labelled tokens differ, so the first losses differ.
    expect(losses[0]).not.toBeCloseTo(losses[1]!, 3);
  });

  it('refuses chat records for a model without a chat template, naming the line', () => {
    const run = lorakit(['train', '--model', demoBase, '--data', data, '--out', join(dir, 'no-template')]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      `lorakit: error: ${data}:1 is a chat record ("messages") but the model has no chat template (tokenizer_config.json "chat_template" or chat_template.jinja); use "text" or "prompt"/"completion" records`,
    );
  });
});

describe('lorakit train --model org/name', () => {
  let hub: TestHub;
  let dir: string;
  const commit = 'c0ffee'.padEnd(40, '0');
  beforeAll(async () => {
    hub = await startTestHub({
      repoId: 'lorakit-test/tiny-qwen2',
      folder: chatModel,
      commit,
      token: 'hf_secret',
    });
    dir = temporaryDirectory();
  });
  afterAll(() => hub.close());

  it('downloads into the Hugging Face cache, then trains offline from it', async () => {
    const data = writeChat(dir);
    const cache = join(dir, 'hf-cache');
    const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, HF_TOKEN: 'hf_secret' };
    const args = [
      'train',
      '--model',
      'lorakit-test/tiny-qwen2',
      '--data',
      data,
      ...TRAIN,
      '--max-steps',
      '1',
    ];
    const online = await lorakitAsync([...args, '--out', join(dir, 'a')], env);
    expect(online.code, online.stderr).toBe(0);
    const snapshot = join(cache, 'models--lorakit-test--tiny-qwen2', 'snapshots', commit);
    expect(readFileSync(join(snapshot, 'model.safetensors'))).toEqual(
      readFileSync(join(chatModel, 'model.safetensors')),
    );
    await hub.close();
    const offline = await lorakitAsync([...args, '--out', join(dir, 'b')], { ...env, HF_HUB_OFFLINE: '1' });
    expect(offline.code, offline.stderr).toBe(0);
    expect(JSON.parse(offline.stdout).loss).toBeCloseTo(JSON.parse(online.stdout).loss, 5);
    // The adapter names its base as PEFT does (model.name_or_path: the Hub id).
    const config = JSON.parse(readFileSync(join(dir, 'b', 'adapter_config.json'), 'utf8'));
    expect(config.base_model_name_or_path).toBe('lorakit-test/tiny-qwen2');
    const generated = await lorakitAsync(
      [
        'generate',
        '--model',
        'lorakit-test/tiny-qwen2',
        '--adapter',
        join(dir, 'b'),
        '--prompt',
        'hi',
        '--max-new-tokens',
        '2',
        '--json',
      ],
      { ...env, HF_HUB_OFFLINE: '1' },
    );
    expect(generated.code, generated.stderr).toBe(0);
  });
});
