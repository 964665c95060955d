import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getPeftModel, LoraConfig, type LoraLinear, loadAdapter, saveAdapter } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import { randn, type Tensor } from '@lorakit/tensor';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { describe, expect, it } from 'vitest';
import { expectClose, readAll } from '../../test/helpers.js';
import '../index.js';
import { saveConvertedAdapter } from './save-converted-adapter.js';

const caseDir = join(peftFixturesDir(), 'pissa_to_lora_conversion');
const io = readAll(join(caseDir, 'io.safetensors'));
const logits = (model: { call(input: unknown): unknown }) =>
  (model.call({ inputIds: io.get('input_ids') }) as { logits: Tensor }).logits;
const temporary = () => mkdtempSync(join(tmpdir(), 'converted-'));

describe('saveConvertedAdapter (fixture pissa_to_lora_conversion)', () => {
  it('writes byte for byte the adapter PEFT wrote from pissa_init + pissa_trained', async () => {
    const trained = loadAdapter(await loadModel(join(caseDir, 'base')), join(caseDir, 'pissa_trained'));
    const dir = temporary();
    const converted = await saveConvertedAdapter(trained, dir, join(caseDir, 'pissa_init'));
    expect(converted.warnings).toEqual([]);
    for (const file of ['adapter_config.json', 'adapter_model.safetensors']) {
      expect(readFileSync(join(dir, file)).equals(readFileSync(join(caseDir, 'adapter', file))), file).toBe(
        true,
      );
    }
  });

  it('the converted adapter on the ORIGINAL base gives logits_trained', async () => {
    const trained = loadAdapter(await loadModel(join(caseDir, 'base')), join(caseDir, 'pissa_trained'));
    const dir = temporary();
    await saveConvertedAdapter(trained, dir, join(caseDir, 'pissa_init'));
    const converted = loadAdapter(await loadModel(join(caseDir, 'base')), dir);
    const error = expectClose(logits(converted), io.get('logits_trained')!, 1e-4, 'logits_trained');
    expect(error).toBeLessThan(1e-4);
  });

  it('round trip: PiSSA init, save the initial adapter, train, convert, reload on the original base', async () => {
    const base = join(caseDir, 'base');
    const peft = getPeftModel(
      await loadModel(base),
      new LoraConfig({
        r: 4,
        loraAlpha: 8,
        targetModules: ['q_proj', 'v_proj', 'down_proj'],
        initLoraWeights: 'pissa',
      }),
    );
    const initialDir = temporary();
    peft.peftConfig.get('default')!.initLoraWeights = true; // PEFT's recipe for the initial adapter
    await saveAdapter(peft, initialDir);
    peft.peftConfig.get('default')!.initLoraWeights = 'pissa';
    for (const [, layer] of peft.loraLayers()) {
      const { a, b } = (layer as LoraLinear).factorParameters('default');
      a.assign(a.add(randn(a.shape, { std: 0.05 })));
      b.assign(b.add(randn(b.shape, { std: 0.05 })));
    }
    peft.eval();
    const expected = logits(peft);
    const dir = temporary();
    const converted = await saveConvertedAdapter(peft, dir, initialDir);
    expect(converted.config.r).toBe(8);
    expect(converted.config.loraAlpha).toBe(16);
    const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    expect([config.r, config.lora_alpha, config.init_lora_weights, config.inference_mode]).toEqual([
      8,
      16,
      true,
      true,
    ]);
    const reloaded = loadAdapter(await loadModel(base), dir);
    expectClose(logits(reloaded), expected, 1e-4, 'logits');
  });

  it('saves a named adapter under dir/<name> and reports a missing initial adapter', async () => {
    const trained = loadAdapter(await loadModel(join(caseDir, 'base')), join(caseDir, 'pissa_trained'), {
      adapterName: 'pissa',
    });
    const dir = temporary();
    const initial = join(temporary(), 'init');
    cpSync(join(caseDir, 'pissa_init'), initial, { recursive: true });
    await saveConvertedAdapter(trained, dir, initial, { adapterName: 'pissa' });
    expect(readFileSync(join(dir, 'pissa', 'adapter_model.safetensors')).length).toBeGreaterThan(0);
    await expect(
      saveConvertedAdapter(trained, dir, join(dir, 'nowhere'), { adapterName: 'pissa' }),
    ).rejects.toThrow(
      `[saveConvertedAdapter] the initial adapter folder ${join(dir, 'nowhere')} has no adapter_config.json; pass the folder of the adapter saved right after initialization (before training)`,
    );
    const occupied = temporary();
    writeFileSync(join(occupied, 'pissa'), '');
    await expect(saveConvertedAdapter(trained, occupied, initial, { adapterName: 'pissa' })).rejects.toThrow(
      `[saveConvertedAdapter] ${join(occupied, 'pissa')} is a file; the adapter is saved into a directory`,
    );
    await expect(saveConvertedAdapter(trained, dir, initial)).rejects.toThrow(
      '[saveAdapter] no adapter named "default"; adapters: pissa',
    );
  });
});
