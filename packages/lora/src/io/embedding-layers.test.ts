import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '@lorakit/models';
import { noGrad, writeTensorFile } from '@lorakit/tensor';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { beforeAll, describe, expect, it } from 'vitest';
import { readAll } from '../../test/helpers.js';
import { getPeftModel, type LoraConfigOptions, loadAdapter, saveAdapter } from '../index.js';

const llama = join(peftFixturesDir(), 'llama_qv', 'base');
let work: string;
let tied: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'lorakit-embeddings-'));
  tied = join(work, 'tied');
  mkdirSync(tied);
  const config = JSON.parse(readFileSync(join(llama, 'config.json'), 'utf8'));
  writeFileSync(join(tied, 'config.json'), JSON.stringify({ ...config, tie_word_embeddings: true }));
  copyFileSync(join(llama, 'generation_config.json'), join(tied, 'generation_config.json'));
  const weights = readAll(join(llama, 'model.safetensors'));
  weights.delete('lm_head.weight');
  await writeTensorFile(join(tied, 'model.safetensors'), weights);
});

async function savedEmbeddingKeys(
  baseDir: string,
  config: LoraConfigOptions,
  saveEmbeddingLayers?: boolean | 'auto',
): Promise<string[]> {
  const peft = getPeftModel(await loadModel(baseDir), config);
  const dir = mkdtempSync(join(work, 'adapter-'));
  await saveAdapter(peft, dir, { saveEmbeddingLayers });
  return [...readAll(join(dir, 'adapter_model.safetensors')).keys()]
    .filter((k) => !k.includes('lora_') && !k.includes('layers.'))
    .sort();
}

// PEFT 0.21's get_peft_model_state_dict: which embedding weights go into adapter_model.safetensors.
describe('save_embedding_layers', () => {
  it("'auto' with an embedding in target_modules saves only the LoRA-wrapped embeddings, as base_layer", async () => {
    expect(await savedEmbeddingKeys(llama, { targetModules: ['embed_tokens', 'q_proj'] })).toEqual([
      'base_model.model.model.embed_tokens.base_layer.weight',
    ]);
    // Tied: lm_head is wrapped, embed_tokens is not, so only lm_head's base weight (the shared one).
    expect(await savedEmbeddingKeys(tied, { targetModules: ['lm_head', 'q_proj'] })).toEqual([
      'base_model.model.lm_head.base_layer.weight',
    ]);
    // A regex string is tested with Python's `in` (a substring), as PEFT does.
    expect(await savedEmbeddingKeys(llama, { targetModules: '.*(embed_tokens|q_proj)' })).toEqual([
      'base_model.model.model.embed_tokens.base_layer.weight',
    ]);
  });

  it("'auto' saves both embeddings when the vocabulary differs from the base's config.json, none otherwise", async () => {
    expect(
      await savedEmbeddingKeys(llama, { targetModules: ['q_proj'], baseModelNameOrPath: llama }),
    ).toEqual([]);
    const resized = join(work, 'resized-base');
    mkdirSync(resized, { recursive: true });
    const config = JSON.parse(readFileSync(join(llama, 'config.json'), 'utf8'));
    writeFileSync(join(resized, 'config.json'), JSON.stringify({ ...config, vocab_size: 90 }));
    expect(
      await savedEmbeddingKeys(llama, { targetModules: ['q_proj'], baseModelNameOrPath: resized }),
    ).toEqual(['base_model.model.lm_head.weight', 'base_model.model.model.embed_tokens.weight']);
  });

  it('true saves both embeddings whatever the targets, false none', async () => {
    expect(await savedEmbeddingKeys(tied, { targetModules: ['embed_tokens', 'q_proj'] }, true)).toEqual([
      'base_model.model.lm_head.weight',
      'base_model.model.model.embed_tokens.base_layer.weight',
    ]);
    expect(await savedEmbeddingKeys(llama, { targetModules: ['embed_tokens', 'q_proj'] }, false)).toEqual([]);
  });

  it('loading applies saved embedding weights to the base, and does not require them', async () => {
    const peft = getPeftModel(await loadModel(llama), { targetModules: ['q_proj'] });
    const embedding = peft.model.getSubmodule('model.embed_tokens').param('weight')!;
    noGrad(() => embedding.assign(embedding.mul(2)));
    const dir = mkdtempSync(join(work, 'resized-'));
    await saveAdapter(peft, dir, { saveEmbeddingLayers: true });
    const loaded = loadAdapter(await loadModel(llama), dir);
    const after = loaded.model.getSubmodule('model.embed_tokens').param('weight')!;
    expect(after.toArray()).toEqual(embedding.toArray());
    const plain = mkdtempSync(join(work, 'plain-'));
    await saveAdapter(peft, plain, { saveEmbeddingLayers: false });
    const again = loadAdapter(await loadModel(llama), plain);
    expect(again.model.getSubmodule('model.embed_tokens').param('weight')!.toArray()).not.toEqual(
      embedding.toArray(),
    );
  });
});
