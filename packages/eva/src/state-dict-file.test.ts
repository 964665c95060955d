import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile } from '@lorakit/safetensors';
import { tensor, zeros } from '@lorakit/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { loadEvaStateDictFile, saveEvaStateDict } from './state-dict-file.js';

const dir = mkdtempSync(join(tmpdir(), 'eva-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('EVA state dict files', () => {
  it('round-trips PEFT key names, float64 values and rank-0 entries, atomically', async () => {
    const stateDict = new Map([
      [
        'base_model.model.model.layers.0.self_attn.q_proj',
        tensor(
          [
            [0.6, 0.8],
            [-0.8, 0.6],
          ],
          { dtype: 'float64' },
        ),
      ],
      ['base_model.model.model.layers.0.mlp.down_proj', zeros([0, 3], { dtype: 'float64' })],
      ['plain', tensor([[1, 2, 3]])],
    ]);
    const path = join(dir, 'nested', 'eva.safetensors');
    await saveEvaStateDict(stateDict, path);
    expect(readdirSync(join(dir, 'nested'))).toEqual(['eva.safetensors']);
    const file = SafetensorsFile.open(path);
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(file.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual(
      expect.arrayContaining([
        ['base_model.model.model.layers.0.mlp.down_proj', 'F64', [0, 3]],
        ['plain', 'F32', [1, 3]],
      ]),
    );
    file.close();
    const loaded = loadEvaStateDictFile(path);
    expect([...loaded.keys()].sort()).toEqual([...stateDict.keys()].sort());
    for (const [name, value] of stateDict) {
      expect(loaded.get(name)!.dtype).toBe(value.dtype);
      expect(loaded.get(name)!.shape).toEqual(value.shape);
      expect(loaded.get(name)!.toList()).toEqual(value.toList());
    }
  });

  it('rejects non-float components', async () => {
    await expect(
      saveEvaStateDict(new Map([['x', tensor([[1n]], { dtype: 'int64' })]]), join(dir, 'bad.safetensors')),
    ).rejects.toThrow('[saveEvaStateDict] "x" has dtype int64; EVA components are float32 or float64');
  });
});
