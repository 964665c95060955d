import { join } from 'node:path';
import { embedding, noGrad, registerBackend, setDefaultBackend } from '@lorakit/tensor';
import { createOpaqueBackend, describeEachBackend } from '@lorakit/tensor/testing';
import { describe, expect, it } from 'vitest';
import { compare, readTensors, testDataDir } from '../test/helpers.js';
import { loadModel } from './index.js';

// An opaque backend: storages are handles, host transfers are counted. Running the models on it shows
// that they only use tensor ops, and how many host reads a forward makes.
const opaque = createOpaqueBackend('opaque');
registerBackend(opaque, -1);

const CASES = { llama_gqa: 1, gpt2: 2, bert_seqcls: 3 } as const; // embedding lookups per forward

describeEachBackend('forward on every backend', (backend) => {
  for (const name of Object.keys(CASES)) {
    it(`${name} reproduces the transformers logits`, async () => {
      const dir = join(testDataDir, name);
      const model = await loadModel(dir);
      const expected = readTensors(join(dir, 'expected.safetensors'));
      const move = (key: string) => expected.get(key)?.toBackend(backend);
      const output = noGrad(() =>
        model.eval().forward({ inputIds: move('input_ids')!, attentionMask: move('attention_mask') }),
      );
      expect(output.logits.backend.name).toBe(backend);
      expect(compare(output.logits.toBackend('js'), expected.get('logits')!, 1e-4, 1e-4).ok).toBe(true);
    });
  }
});

describe('host reads', () => {
  it("a forward reads nothing back to the host beyond the tensor package's index bounds checks", async () => {
    for (const [name, lookups] of Object.entries(CASES)) {
      const dir = join(testDataDir, name);
      const expected = readTensors(join(dir, 'expected.safetensors'));
      setDefaultBackend('opaque');
      try {
        const model = await loadModel(dir);
        const ids = expected.get('input_ids')!.toBackend('opaque');
        const mask = expected.get('attention_mask')?.toBackend('opaque');
        const before = opaque.transfers.toHost;
        noGrad(() => embedding(ids, model.parameterAt(`${model.getInputEmbeddings()}.weight`)));
        const perLookup = opaque.transfers.toHost - before;
        const start = opaque.transfers.toHost;
        noGrad(() => model.eval().forward({ inputIds: ids, attentionMask: mask }));
        expect(opaque.transfers.toHost - start, name).toBe(lookups * perLookup);
      } finally {
        setDefaultBackend(undefined);
      }
    }
  });
});
