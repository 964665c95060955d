import { adapterConfigJson, getPeftModel, LoraConfig, LoraLayer, type LoraLinear } from '@lorakit/lora';
import { manualSeed, randn, type Tensor, tensor, zeros } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { Chain, initEvaBatches, initEvaConfig, initEvaSpec, loadInitEvaModel } from '../test/fixture.js';
import { evaConfig } from './eva-config.js';
import { getEvaStateDict } from './get-eva-state-dict.js';
import { initializeLoraEvaWeights, loadEvaStateDict } from './initialize-eva-weights.js';

const quiet = { log: () => {} };
const generic = { prepareModelInputsFn: null, prepareLayerInputsFn: null, ...quiet };

function chainPeft(layers: number, options: { rho?: number; r?: number } = {}) {
  manualSeed(3);
  const model = new Chain(layers, 6);
  const peft = getPeftModel(
    model,
    new LoraConfig({
      r: options.r ?? 2,
      loraAlpha: 4,
      targetModules: ['proj'],
      initLoraWeights: 'eva',
      evaConfig: evaConfig({ rho: options.rho ?? 1, tau: 0.9 }),
    }),
  );
  const batches = Array.from({ length: 3 }, () => randn([24, 6]));
  return { peft, batches };
}

describe('initializeLoraEvaWeights / loadEvaStateDict: errors', () => {
  it('needs a PeftModel with one active adapter initialized with eva', async () => {
    const model = await loadInitEvaModel();
    await expect(initializeLoraEvaWeights(model as never, initEvaBatches())).rejects.toThrow(
      '[initializeLoraEvaWeights] model must be a PeftModel',
    );
    const plainLora = getPeftModel(model, initEvaConfig({ initLoraWeights: true }));
    await expect(initializeLoraEvaWeights(plainLora, initEvaBatches())).rejects.toThrow(
      `[initializeLoraEvaWeights] can only be used with init_lora_weights='eva'; adapter "default" has init_lora_weights=true`,
    );
    const two = getPeftModel(await loadInitEvaModel(), initEvaConfig());
    two.addAdapter('other', initEvaConfig());
    two.setAdapter(['default', 'other']);
    await expect(initializeLoraEvaWeights(two, initEvaBatches())).rejects.toThrow(
      '[initializeLoraEvaWeights] currently only works with a single active adapter, active: default, other',
    );
    const peft = getPeftModel(await loadInitEvaModel(), initEvaConfig());
    await expect(initializeLoraEvaWeights(peft, 42 as never)).rejects.toThrow(
      '[initializeLoraEvaWeights] dataloader is required if eva_state_dict is not provided: pass an iterable of batches or a Map of components',
    );
  });

  it('rejects state dicts that do not fit: unknown keys, empty, wrong shapes', async () => {
    const { peft } = chainPeft(2);
    const layers = 'block0.proj, block1.proj';
    expect(() => loadEvaStateDict(peft, new Map([['block7.proj', zeros([2, 6])]]))).toThrow(
      `[loadEvaStateDict] EVA state dict keys block7.proj match no LoRA layer of adapter "default"; LoRA layers: ${layers}`,
    );
    expect(() => loadEvaStateDict(peft, {})).toThrow(
      `[loadEvaStateDict] the EVA state dict is empty; LoRA layers: ${layers}`,
    );
    expect(() => loadEvaStateDict(peft, { 'block0.proj': zeros([2, 5]) })).toThrow(
      '[loadEvaStateDict] components for block0.proj have shape [2, 5]; expected [rank, 6]',
    );
  });
});

describe('initializeLoraEvaWeights / loadEvaStateDict: behaviour', () => {
  it('leaves the model output unchanged (B = 0) and makes the new factors trainable', async () => {
    const base = await loadInitEvaModel();
    const batch = initEvaBatches()[0]!;
    const before = base.forward({ inputIds: batch.inputIds }).logits.toArray() as Float32Array;
    const peft = getPeftModel(base, initEvaConfig());
    await initializeLoraEvaWeights(peft, initEvaBatches(), quiet);
    const after = (
      peft.call({ inputIds: batch.inputIds }) as { logits: Tensor }
    ).logits.toArray() as Float32Array;
    expect(after).toEqual(before);
    const { trainable } = peft.trainableParameterCounts();
    // Σ over layers of r′·(in + out) with PEFT's ranks: q/v/up 4, o 6, down 2.
    const sizes = {
      q_proj: [32, 32],
      v_proj: [32, 16],
      o_proj: [32, 32],
      up_proj: [32, 64],
      down_proj: [64, 32],
    };
    let expected = 0;
    for (const [name, rank] of Object.entries(initEvaSpec.ranks)) {
      const [input, output] = sizes[name.split('.').at(-1) as keyof typeof sizes];
      expected += rank * (input! + output!);
    }
    expect(trainable).toBe(expected);
  });

  it('loads a state dict computed on the plain model (keys without base_model.model.) and plain objects', async () => {
    const stateDict = await getEvaStateDict(await loadInitEvaModel(), initEvaBatches(), {
      ...quiet,
      peftConfig: initEvaConfig(),
    });
    const peft = getPeftModel(await loadInitEvaModel(), initEvaConfig());
    await initializeLoraEvaWeights(peft, Object.fromEntries(stateDict));
    expect(peft.peftConfig.get('default')!.rankPattern).toEqual(initEvaSpec.rank_pattern);
    const layer = new Map(peft.loraLayers()).get('model.layers.0.self_attn.o_proj') as LoraLinear;
    expect(layer.factorParameters('default').a.toList()).toEqual(
      stateDict.get('model.layers.0.self_attn.o_proj')!.float().toList(),
    );
  });

  it('re-initializes layers the state dict leaves out with init_lora_weights=true, with PEFT’s warning', async () => {
    const { peft } = chainPeft(2);
    const components = tensor([
      [1, 0, 0, 0, 0, 0],
      [0, 1, 0, 0, 0, 0],
    ]);
    const result = loadEvaStateDict(peft, { 'base_model.model.block0.proj': components });
    expect(result.reinitialized).toEqual(['block1.proj']);
    expect(peft.warnings.at(-1)).toBe(
      `the following layers were initialized with init_lora_weights=True because they were not found in the eva state_dict: ["block1.proj"]\ncurrently the following lora modules are not supported by EVA: Embedding, MultiheadAttention, Conv`,
    );
    const layers = new Map(peft.loraLayers());
    const reinitialized = (layers.get('block1.proj') as LoraLinear).factorParameters('default');
    expect(reinitialized.b.abs().max().item()).toBe(0);
    expect(reinitialized.a.abs().max().item()).toBeGreaterThan(0);
    expect((layers.get('block0.proj') as LoraLinear).factorParameters('default').a.toList()).toEqual(
      components.toList(),
    );
    expect([...(peft.peftConfig.get('default')!.targetModules as Set<string>)]).toEqual([
      'block0.proj',
      'block1.proj',
    ]);
  });

  it('removes the adapter from rank-0 layers, keeping other adapters of the layer', async () => {
    const { peft } = chainPeft(2);
    peft.addAdapter('other', new LoraConfig({ r: 2, targetModules: ['block1.proj'] }));
    const result = loadEvaStateDict(peft, {
      'block0.proj': zeros([0, 6]),
      'block1.proj': zeros([0, 6]),
    });
    expect(result.removed).toEqual(['block0.proj', 'block1.proj']);
    expect(peft.model.getSubmodule('block0.proj')).not.toBeInstanceOf(LoraLayer);
    const kept = peft.model.getSubmodule('block1.proj') as LoraLayer;
    expect(kept.adapterNames()).toEqual(['other']);
    expect([...(peft.peftConfig.get('default')!.targetModules as Set<string>)]).toEqual([]);
  });

  it('minimizes target_modules to suffixes from 20 layers on, as PEFT', async () => {
    const { peft, batches } = chainPeft(21);
    const result = await initializeLoraEvaWeights(peft, batches, generic);
    expect([...result.ranks.values()].every((rank) => rank === 2)).toBe(true);
    expect(peft.peftConfig.get('default')!.targetModules).toEqual(new Set(['proj']));
  });

  it('writes scaled alphas as Python floats and keeps α/r, or keeps α with adjustScalingFactors false', async () => {
    const { peft } = chainPeft(2);
    loadEvaStateDict(peft, { 'block0.proj': zeros([3, 6]), 'block1.proj': zeros([1, 6]) });
    const json = adapterConfigJson(peft, 'default');
    expect(json).toContain('"alpha_pattern": {\n    "block0.proj": 6.0,\n    "block1.proj": 2.0\n  }');
    expect(json).toContain('"rank_pattern": {\n    "block0.proj": 3,\n    "block1.proj": 1\n  }');
    const layers = new Map(peft.loraLayers());
    expect((layers.get('block0.proj') as LoraLinear).scaling.get('default')).toBe(2);

    manualSeed(3);
    const fixed = getPeftModel(
      new Chain(2, 6),
      new LoraConfig({
        r: 2,
        loraAlpha: 4,
        targetModules: ['proj'],
        initLoraWeights: 'eva',
        evaConfig: evaConfig({ adjustScalingFactors: false }),
      }),
    );
    loadEvaStateDict(fixed, { 'block0.proj': zeros([4, 6]), 'block1.proj': zeros([2, 6]) });
    expect(fixed.peftConfig.get('default')!.alphaPattern).toEqual({});
    expect((new Map(fixed.loraLayers()).get('block0.proj') as LoraLinear).scaling.get('default')).toBe(1);
  });
});
