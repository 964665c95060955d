import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import '@lorakit/inits-svd';
import { loadAdapter } from '@lorakit/lora';
import { loadModel, type ModelOutput } from '@lorakit/models';
import { noGrad, tensor } from '@lorakit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeCopyText, writeShiftJsonl } from './fixtures.js';
import { demoBase, lorakit, temporaryDirectory } from './run-cli.js';

const INPUT_IDS = () => tensor([[1, 24, 13, 14, 11, 25, 4, 3, 6, 7, 8, 9, 10, 5]], { dtype: 'int64' });

async function logitsWith(adapter: string, base: string) {
  const peft = loadAdapter(await loadModel(base), adapter);
  return noGrad(() => (peft.call({ inputIds: INPUT_IDS() }) as ModelOutput).logits);
}

async function logitsOf(base: string) {
  const model = await loadModel(base);
  return noGrad(() => (model.call({ inputIds: INPUT_IDS() }) as ModelOutput).logits);
}

describe('lorakit init, train --adapter, convert', () => {
  let dir: string;
  let data: string;
  beforeAll(() => {
    dir = temporaryDirectory();
    data = writeShiftJsonl(dir, 16);
  });

  it('pissa → train → convert gives a plain LoRA adapter with the trained model on the original base', async () => {
    const init = join(dir, 'pissa-init');
    const residual = join(init, 'residual-base');
    const run = lorakit([
      'init',
      '--method',
      'pissa',
      '--model',
      demoBase,
      '--r',
      '4',
      '--target-modules',
      'q_proj,v_proj',
      '--out',
      init,
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json()).toMatchObject({ method: 'pissa', modules: 4, initLoraWeights: 'pissa' });
    expect(existsSync(join(residual, 'model.safetensors'))).toBe(true);
    // Saved as plain LoRA of the residual base (PEFT's recipe): loading never runs PiSSA again.
    expect(JSON.parse(readFileSync(join(init, 'adapter_config.json'), 'utf8'))).toMatchObject({
      init_lora_weights: true,
      base_model_name_or_path: residual,
    });
    // The initialized adapter on its residual base is the original model.
    const original = await logitsOf(demoBase);
    expect((await logitsWith(init, residual)).sub(original).abs().max().item()).toBeLessThan(1e-4);
    // On any other base it would silently be another model: refused, naming the base to use.
    const wrong = lorakit(['generate', '--model', demoBase, '--adapter', init, '--prompt', 'copy: ab|']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim()).toBe(
      `lorakit: error: adapter ${init} belongs to the residual base ${residual} (lorakit init moved part of each weight into it; adapter_config.json base_model_name_or_path), but --model is ${demoBase}: pass --model ${residual}, or lorakit convert it to plain LoRA for the original model`,
    );
    const generate = lorakit([
      'generate',
      '--model',
      residual,
      '--adapter',
      init,
      '--prompt',
      'copy: abc|',
      '--json',
    ]);
    expect(generate.code, generate.stderr).toBe(0);

    const trained = join(dir, 'pissa-trained');
    const train = lorakit([
      'train',
      '--model',
      residual,
      '--adapter',
      init,
      '--data',
      data,
      '--max-steps',
      '2',
      '--batch-size',
      '8',
      '--lr',
      '1e-2',
      '--out',
      trained,
      '--no-plot',
    ]);
    expect(train.code, train.stderr).toBe(0);

    const plain = join(dir, 'plain');
    const convert = lorakit(['convert', '--initial', init, '--trained', trained, '--out', plain, '--json']);
    expect(convert.code, convert.stderr).toBe(0);
    expect(convert.json()).toMatchObject({ r: 8 });
    const config = JSON.parse(readFileSync(join(plain, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ r: 8, init_lora_weights: true, base_model_name_or_path: null });

    // The trained adapter on the residual base and the converted adapter on the original base agree.
    const expected = await logitsWith(trained, residual);
    const actual = await logitsWith(plain, demoBase);
    expect(actual.sub(expected).abs().max().item()).toBeLessThan(1e-4);

    // Merging the trained adapter into its residual base gives the trained model too.
    const merged = join(dir, 'pissa-merged');
    const merge = lorakit(['merge', '--model', residual, '--adapter', trained, '--out', merged, '--json']);
    expect(merge.code, merge.stderr).toBe(0);
    const mergedModel = await loadModel(merged);
    const mergedLogits = noGrad(() => mergedModel.call({ inputIds: INPUT_IDS() }).logits);
    expect(mergedLogits.sub(expected).abs().max().item()).toBeLessThan(1e-4);
  });

  it.each([
    ['pissa', ['--niter', '2']],
    ['corda', ['--data', 'COPY', '--samples', '8']],
    ['olora', []],
  ])(
    '%s %s: the adapter reloads exactly on its residual base, in generate, train --adapter and merge',
    async (method, extra) => {
      const text = writeCopyText(join(dir, 'calibration-reload'), 16);
      const out = join(dir, `${method}-reload`);
      const residual = join(out, 'residual-base');
      const args = extra.map((a) => (a === 'COPY' ? text : a));
      const run = lorakit([
        'init',
        '--method',
        method,
        '--model',
        demoBase,
        '--r',
        '2',
        '--target-modules',
        'q_proj,v_proj',
        ...args,
        '--out',
        out,
      ]);
      expect(run.code, run.stderr).toBe(0);
      const original = await logitsOf(demoBase);
      expect((await logitsWith(out, residual)).sub(original).abs().max().item()).toBeLessThan(1e-4);
      const generate = lorakit(['generate', '--model', residual, '--adapter', out, '--prompt', 'copy: abc|']);
      expect(generate.code, generate.stderr).toBe(0);
      const train = lorakit([
        'train',
        '--model',
        residual,
        '--adapter',
        out,
        '--data',
        data,
        '--max-steps',
        '1',
        '--batch-size',
        '8',
        '--out',
        join(out, '..', `${method}-reload-trained`),
        '--no-plot',
      ]);
      expect(train.code, train.stderr).toBe(0);
      const merged = join(dir, `${method}-reload-merged`);
      const merge = lorakit(['merge', '--model', residual, '--adapter', out, '--out', merged]);
      expect(merge.code, merge.stderr).toBe(0);
      const mergedModel = await loadModel(merged);
      const mergedLogits = noGrad(() => mergedModel.call({ inputIds: INPUT_IDS() }).logits);
      expect(mergedLogits.sub(original).abs().max().item()).toBeLessThan(1e-4);
    },
  );

  it.each([
    ['olora', []],
    ['loftq', ['--loftq-bits', '4']],
    ['corda', ['--data', 'COPY', '--samples', '8']],
    ['eva', ['--data', 'COPY', '--samples', '16', '--batch-size', '8']],
  ])('%s writes a loadable PEFT adapter', (method, extra) => {
    const text = writeCopyText(join(dir, 'calibration'), 16);
    const out = join(dir, `${method}-init`);
    const args = extra.map((a) => (a === 'COPY' ? text : a));
    const run = lorakit([
      'init',
      '--method',
      method,
      '--model',
      demoBase,
      '--r',
      '2',
      '--target-modules',
      'q_proj,v_proj',
      ...args,
      '--out',
      out,
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    // Inits that rewrite the base are saved as plain LoRA of residual-base/; EVA keeps its name.
    expect(String(config.init_lora_weights)).toBe(method === 'eva' ? 'eva' : 'true');
    const inspect = lorakit(['inspect', out, '--json']);
    expect(inspect.code).toBe(0);
    expect(inspect.json<{ modules: unknown[] }>().modules.length).toBeGreaterThan(0);
  });

  it('corda without --data: exit 2', () => {
    const run = lorakit(['init', '--method', 'corda', '--model', demoBase, '--out', join(dir, 'x')]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      "lorakit: error: --method corda needs --data (calibration text or JSONL, like train's --data)",
    );
  });

  it('an unknown method lists the methods', () => {
    const run = lorakit(['init', '--method', 'lora-ga', '--model', demoBase, '--out', join(dir, 'x')]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      'lorakit: error: --method must be one of eva, pissa, olora, corda, orthogonal, loftq, received "lora-ga"',
    );
  });

  it('convert refuses to overwrite an input', () => {
    const init = join(dir, 'pissa-init');
    const run = lorakit([
      'convert',
      '--initial',
      init,
      '--trained',
      join(dir, 'pissa-trained'),
      '--out',
      init,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      `lorakit: error: --out ${init} is one of the input adapters; write the converted adapter elsewhere`,
    );
  });
});
