import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
// The PiSSA strategy must be registered for loadAdapter to rebuild the residual base.
import '@lorakit/inits-svd';
import { loadAdapter } from '@lorakit/lora';
import { loadModel, type ModelOutput } from '@lorakit/models';
import { noGrad, tensor } from '@lorakit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeCopyText, writeShiftJsonl } from './fixtures.js';
import { demoBase, lorakit, temporaryDirectory } from './run-cli.js';

const INPUT_IDS = () => tensor([[1, 24, 13, 14, 11, 25, 4, 3, 6, 7, 8, 9, 10, 5]], { dtype: 'int64' });

async function logitsWith(adapter: string) {
  const peft = loadAdapter(await loadModel(demoBase), adapter);
  return noGrad(() => (peft.call({ inputIds: INPUT_IDS() }) as ModelOutput).logits);
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
    expect(existsSync(join(init, 'residual-base', 'model.safetensors'))).toBe(true);

    const trained = join(dir, 'pissa-trained');
    const train = lorakit([
      'train',
      '--model',
      demoBase,
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
    expect(config).toMatchObject({ r: 8, init_lora_weights: true });

    // Loading the trained PiSSA adapter onto the original base rebuilds the residual (as PEFT does);
    // the converted adapter on the original base must give the same logits.
    const expected = await logitsWith(trained);
    const actual = await logitsWith(plain);
    expect(actual.sub(expected).abs().max().item()).toBeLessThan(1e-4);

    // Merging the trained PiSSA adapter into the original base (streaming, one module at a time) rebuilds
    // each residual with the registered PiSSA init, so the merged checkpoint is the trained model too.
    const merged = join(dir, 'pissa-merged');
    const merge = lorakit(['merge', '--model', demoBase, '--adapter', trained, '--out', merged, '--json']);
    expect(merge.code, merge.stderr).toBe(0);
    expect(merge.json()).toMatchObject({ mode: 'streaming' });
    const mergedModel = await loadModel(merged);
    const mergedLogits = noGrad(() => mergedModel.call({ inputIds: INPUT_IDS() }).logits);
    expect(mergedLogits.sub(expected).abs().max().item()).toBeLessThan(1e-4);
  });

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
    expect(String(config.init_lora_weights)).toBe(method);
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
