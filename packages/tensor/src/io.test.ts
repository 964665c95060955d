import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { readTensorFile, tensor, writeTensorFile } from './index.js';
import { describeEachBackend } from './testing/backends.js';

describeEachBackend('tensor files', () => {
  it('round-trips every dtype through safetensors', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'lorakit-io-')), 't.safetensors');
    const original = {
      f32: tensor([
        [1.5, -2],
        [3, 4],
      ]),
      f64: tensor([1e-300, 2], { dtype: 'float64' }),
      bf16: tensor([1, 0.5], { dtype: 'bfloat16' }),
      f16: tensor([65504, -0.25], { dtype: 'float16' }),
      ids: tensor([1, 2, 3], { dtype: 'int64' }),
      i32: tensor([-7], { dtype: 'int32' }),
      mask: tensor([true, false]),
    };
    await writeTensorFile(path, original, { metadata: { format: 'pt' } });
    const back = readTensorFile(path);
    for (const [name, t] of Object.entries(original)) {
      const b = back.get(name)!;
      expect(b.dtype, name).toBe(t.dtype);
      expect(b.shape, name).toEqual(t.shape);
      expect(b.toList(), name).toEqual(t.toList());
    }
  });
});
