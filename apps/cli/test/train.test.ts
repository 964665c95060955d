import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeCopyText, writeShiftJsonl } from './fixtures.js';
import { cliPath, demoBase, lorakit, temporaryDirectory } from './run-cli.js';

interface TrainResult {
  steps: number;
  loss: number;
  evalLoss: number | null;
  losses: { step: number; loss: number }[];
  evalLosses: { step: number; loss: number }[];
}

const LORA = [
  '--r',
  '4',
  '--alpha',
  '8',
  '--target-modules',
  'q_proj,v_proj',
  '--lr',
  '1e-2',
  '--batch-size',
  '8',
];

describe('lorakit train', () => {
  let dir: string;
  let data: string;
  beforeAll(() => {
    dir = temporaryDirectory();
    data = writeShiftJsonl(dir);
  });

  it('trains on JSONL with an eval split and checkpoints, and writes a PEFT adapter, state and loss curve', () => {
    const out = join(dir, 'run');
    const args = [
      'train',
      '--model',
      demoBase,
      '--data',
      data,
      ...LORA,
      '--max-steps',
      '4',
      '--eval-split',
      '0.1',
      '--eval-every',
      '2',
      '--save-every',
      '2',
    ];
    const run = lorakit([...args, '--out', out, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const result = run.json<TrainResult>();
    expect(result.steps).toBe(4);
    expect(result.losses.map((l) => l.step)).toEqual([1, 2, 3, 4]);
    expect(result.evalLosses.map((l) => l.step)).toEqual([2, 4]);
    for (const file of [
      'adapter_config.json',
      'adapter_model.safetensors',
      'trainer_state.json',
      'loss.png',
    ]) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
    for (const file of ['adapter_model.safetensors', 'optimizer.safetensors', 'trainer_state.json']) {
      expect(existsSync(join(out, 'checkpoint-2', file)), file).toBe(true);
    }
    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, task_type: 'CAUSAL_LM' });
    expect([...config.target_modules].sort()).toEqual(['q_proj', 'v_proj']);

    // Resuming from step 2 repeats steps 3 and 4 exactly (same data order, optimizer and schedule state).
    const resumed = lorakit([
      ...args,
      '--out',
      join(dir, 'resumed'),
      '--resume',
      join(out, 'checkpoint-2'),
      '--json',
    ]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const again = resumed.json<TrainResult>();
    expect(again.losses.map((l) => l.step)).toEqual([1, 2, 3, 4]);
    for (const i of [2, 3]) expect(again.losses[i]!.loss).toBeCloseTo(result.losses[i]!.loss, 5);
  });

  it('refuses to resume with different settings, naming them', () => {
    const out = join(dir, 'run');
    const run = lorakit([
      'train',
      '--model',
      demoBase,
      '--data',
      data,
      ...LORA,
      '--max-steps',
      '4',
      '--batch-size',
      '4',
      '--eval-split',
      '0.1',
      '--out',
      join(dir, 'x'),
      '--resume',
      join(out, 'checkpoint-2'),
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('was trained with other settings: batchSize 8 (now 4)');
    // Optimizer and LoRA settings are part of the fingerprint too (they used to be ignored silently).
    const resume = (extra: string[]) =>
      lorakit([
        'train',
        '--model',
        demoBase,
        '--data',
        data,
        ...LORA,
        '--max-steps',
        '4',
        '--eval-split',
        '0.1',
        ...extra,
        '--out',
        join(dir, 'x'),
        '--resume',
        join(out, 'checkpoint-2'),
      ]);
    const lr = resume(['--lr', '1e-3']);
    expect(lr.code).toBe(2);
    expect(lr.stderr.trim()).toBe(
      `lorakit: error: --resume ${join(out, 'checkpoint-2')} was trained with other settings: learningRate 0.01 (now 0.001)`,
    );
    const rank = resume(['--r', '16', '--schedule', 'constant']);
    expect(rank.code).toBe(2);
    expect(rank.stderr.trim()).toBe(
      `lorakit: error: --resume ${join(out, 'checkpoint-2')} was trained with other settings: schedule "linear" (now "constant"), r 4 (now 16)`,
    );
  });

  it('--config accepts an adapter_config.json that lorakit or PEFT saved (inference_mode: true)', () => {
    const saved = join(peftFixturesDir(), 'llama_qv', 'adapter', 'adapter_config.json');
    expect(JSON.parse(readFileSync(saved, 'utf8')).inference_mode).toBe(true);
    const config = join(dir, 'saved-config.json');
    writeFileSync(
      config,
      JSON.stringify({ ...JSON.parse(readFileSync(saved, 'utf8')), target_modules: ['q_proj', 'v_proj'] }),
    );
    const run = lorakit([
      'train',
      '--model',
      demoBase,
      '--data',
      data,
      '--config',
      config,
      '--max-steps',
      '1',
      '--out',
      join(dir, 'from-saved'),
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json<TrainResult>().steps).toBe(1);
  });

  it('trains on plain text with a --config file and the human progress output', () => {
    const text = writeCopyText(dir);
    const config = join(dir, 'lora.json');
    writeFileSync(
      config,
      JSON.stringify({ r: 2, lora_alpha: 4, target_modules: ['o_proj'], lora_dropout: 0.0 }),
    );
    const run = lorakit([
      'train',
      '--model',
      demoBase,
      '--data',
      text,
      '--config',
      config,
      '--epochs',
      '1',
      '--batch-size',
      '16',
      '--out',
      join(dir, 'text'),
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('trainable params: 512 ||');
    expect(run.stdout).toMatch(/trained 2 steps in [\d.]+ s/);
    expect(JSON.parse(readFileSync(join(dir, 'text', 'adapter_config.json'), 'utf8')).r).toBe(2);
  });

  it('Ctrl-C saves a checkpoint to resume from and exits 130', async () => {
    const out = join(dir, 'interrupted');
    const child = spawn(
      process.execPath,
      [cliPath, 'train', '--model', demoBase, '--data', data, ...LORA, '--max-steps', '2000', '--out', out],
      {
        env: { ...process.env, LORAKIT_BACKEND: 'js' },
      },
    );
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    // Interrupt once training has started (its plan is printed before the first step).
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (stdout.includes('2000 steps')) {
          clearInterval(poll);
          setTimeout(resolve, 1500);
        }
      }, 50);
    });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(130);
    const match = /interrupted at step (\d+); saved (\S+) — continue with --resume \S+/.exec(stdout);
    expect(match, stdout).not.toBeNull();
    expect(existsSync(join(match![2]!, 'optimizer.safetensors'))).toBe(true);
  });

  describe('bad input: one line, exit code 2', () => {
    const train = (args: string[]) =>
      lorakit(['train', '--model', demoBase, '--out', join(dir, 'bad'), ...args]);

    it('a missing data file', () => {
      const run = train(['--data', '/nonexistent.jsonl']);
      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toBe('lorakit: error: --data /nonexistent.jsonl does not exist');
    });

    it('a JSONL line without text, prompt/completion or input/target', () => {
      const bad = join(dir, 'bad.jsonl');
      writeFileSync(bad, '{"text": "ok"}\n{"input": "x"}\n');
      const run = train(['--data', bad]);
      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toBe(
        `lorakit: error: ${bad}:2 must be an object with "text" (a string), "prompt" and "completion" or "input" and "target" (strings), "text" and "label", or "messages", received {"input":"x"}`,
      );
    });

    it('target modules the model does not have, listing the ones it has', () => {
      const run = train(['--data', data, '--target-modules', 'c_attn']);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^lorakit: error: .*c_attn.*q_proj/);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    });

    it('an invalid --config', () => {
      const config = join(dir, 'broken.json');
      writeFileSync(config, '{"r": 4, "lora_alpah": 8}');
      const run = train(['--data', data, '--config', config]);
      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toBe(
        `lorakit: error: --config ${config}: Unexpected keyword arguments ["lora_alpah"] for class LoraConfig, these are ignored.`,
      );
    });

    it('a model folder without tokenizer.json', () => {
      const model = join(dir, 'no-tokenizer');
      mkdirSync(model, { recursive: true });
      for (const file of ['config.json', 'model.safetensors'])
        copyFileSync(join(demoBase, file), join(model, file));
      const run = lorakit(['train', '--model', model, '--data', data, '--out', join(dir, 'bad')]);
      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toBe(
        `lorakit: error: model directory ${model} has no tokenizer.json (training tokenizes the data with the checkpoint's tokenizer)`,
      );
    });

    it('a missing required flag', () => {
      const run = lorakit(['train', '--model', demoBase, '--out', join(dir, 'bad')]);
      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toBe("lorakit: error: required option '--data <file>' not specified");
    });
  });
});
