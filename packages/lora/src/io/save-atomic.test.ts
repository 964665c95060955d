import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Linear, Module } from '@lorakit/nn';
import { manualSeed, type Tensor } from '@lorakit/tensor';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getPeftModel, loadAdapter, readAdapterConfig, saveAdapter } from '../index.js';

class Pair extends Module {
  constructor() {
    super();
    this.registerModule('q_proj', new Linear(4, 4));
    this.registerModule('v_proj', new Linear(4, 4));
  }
  forward(x: Tensor): Tensor {
    return this.child('q_proj').call(x).add(this.child('v_proj').call(x));
  }
}

let root: string;
beforeEach(() => {
  manualSeed(2);
  root = mkdtempSync(join(tmpdir(), 'lorakit-save-atomic-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const DEAD = 4194311;

describe('saveAdapter replaces the adapter folder as a whole', () => {
  it('keeps other files and adapters, drops nothing of its own, leaves no temporaries', async () => {
    const dir = join(root, 'adapter');
    const peft = getPeftModel(new Pair(), { r: 2, targetModules: ['q_proj'] });
    await saveAdapter(peft, dir);
    writeFileSync(join(dir, 'README.md'), 'notes');
    mkdirSync(join(dir, 'other'));
    writeFileSync(join(dir, 'other', 'adapter_config.json'), '{}');
    writeFileSync(join(dir, `.adapter_model.safetensors.tmp-${DEAD}-abc`), 'half a file');
    writeFileSync(join(root, `.adapter.lorakit-new-${DEAD}-abc`), 'x');

    const bigger = getPeftModel(new Pair(), { r: 4, targetModules: ['q_proj'] });
    await saveAdapter(bigger, dir);
    expect(readdirSync(dir).sort()).toEqual([
      'README.md',
      'adapter_config.json',
      'adapter_model.safetensors',
      'other',
    ]);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('notes');
    expect(readFileSync(join(dir, 'other', 'adapter_config.json'), 'utf8')).toBe('{}');
    expect(readAdapterConfig(dir).r).toBe(4);
    expect(readdirSync(root)).toEqual(['adapter']);
  });

  it('saves named adapters into subfolders in the same swap', async () => {
    const dir = join(root, 'multi');
    const peft = getPeftModel(new Pair(), { r: 2, targetModules: ['q_proj'] });
    peft.addAdapter('second', { r: 3, targetModules: ['v_proj'] });
    expect(await saveAdapter(peft, dir)).toEqual([dir, join(dir, 'second')]);
    expect(readAdapterConfig(join(dir, 'second')).r).toBe(3);
    expect(existsSync(join(dir, 'adapter_model.safetensors'))).toBe(true);
  });

  it('a save that fails at its second adapter leaves every adapter of the previous save', async () => {
    const dir = join(root, 'pair');
    const first = getPeftModel(new Pair(), { r: 2, targetModules: ['q_proj'] });
    first.addAdapter('second', { r: 2, targetModules: ['v_proj'] });
    await saveAdapter(first, dir);
    const next = getPeftModel(new Pair(), { r: 4, targetModules: ['q_proj'] });
    next.addAdapter('second', { r: 4, targetModules: ['v_proj'] });
    // Disposed storage makes the second adapter's weights unreadable halfway through the save.
    next.loraLayers()[1]![1].adapterParameters('second')[0]!.dispose();
    await expect(saveAdapter(next, dir)).rejects.toThrow('disposed');
    expect(readAdapterConfig(dir).r).toBe(2);
    expect(readAdapterConfig(join(dir, 'second')).r).toBe(2);
    expect(readdirSync(root)).toEqual(['pair']);
  });

  it('loading a folder that a killed save left absent points at the previous version', async () => {
    const dir = join(root, 'gone');
    const backup = join(root, `.gone.lorakit-old-${DEAD}-abc`);
    await saveAdapter(getPeftModel(new Pair(), { r: 2, targetModules: ['q_proj'] }), backup);
    expect(() => loadAdapter(new Pair(), dir)).toThrow(
      `[loadAdapter] ${dir} has no adapter_config.json (the directory does not exist); a save was interrupted and left the previous version at ${backup} (the next save into ${dir} restores it)`,
    );
  });

  it('fails fast under /proc with a message naming the folder', async () => {
    const peft = getPeftModel(new Pair(), { r: 2, targetModules: ['q_proj'] });
    await expect(saveAdapter(peft, '/proc/lorakit/adapter')).rejects.toThrow(
      /^\[saveAdapter\] cannot write \/proc\/lorakit\/adapter: cannot create the folder \/proc\/lorakit \(/,
    );
  });
});
