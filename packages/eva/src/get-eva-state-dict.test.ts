import { getPeftModel, LoraConfig, PeftModel } from '@lorakit/lora';
import type { AnyModule } from '@lorakit/nn';
import { manualSeed, randn, type Tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import {
  Chain,
  initEvaBatches,
  initEvaConfig,
  initEvaIo,
  initEvaSpec,
  loadInitEvaModel,
} from '../test/fixture.js';
import { maxErrorUpToRowSign } from '../test/helpers.js';
import { EvaError } from './errors.js';
import { evaConfig } from './eva-config.js';
import { type EvaProgress, getEvaStateDict } from './get-eva-state-dict.js';
import { forwardFnDict } from './prepare-inputs.js';

const quiet = { log: () => {} };

/** A Chain model and EVA options for plain [rows, width] batches (every row is used). */
function chain(layers = 2, width = 8) {
  manualSeed(7);
  const model = new Chain(layers, width);
  const peftConfig = new LoraConfig({
    r: 2,
    targetModules: ['proj'],
    initLoraWeights: 'eva',
    evaConfig: evaConfig({ rho: 2, tau: 0.9 }),
  });
  const options = { peftConfig, prepareModelInputsFn: null, prepareLayerInputsFn: null, ...quiet };
  const batches = (count: number, rows: number): Tensor[] =>
    Array.from({ length: count }, () => randn([rows, width]));
  return { model, peftConfig, options, batches };
}

function hookCount(module: AnyModule): number {
  return (module as unknown as { _hooks: Set<unknown> })._hooks.size;
}

describe('getEvaStateDict: errors', () => {
  it('rejects an empty dataloader, sync or async', async () => {
    const { model, options } = chain();
    await expect(getEvaStateDict(model, [], options)).rejects.toThrow(
      new EvaError('[getEvaStateDict] dataloader is empty'),
    );
    async function* nothing(): AsyncGenerator<Tensor> {}
    await expect(getEvaStateDict(model, nothing(), options)).rejects.toThrow(
      '[getEvaStateDict] dataloader is empty',
    );
  });

  it('needs a config for a plain model and refuses distributed gathering', async () => {
    const { model, batches, options } = chain();
    await expect(getEvaStateDict(model, batches(1, 10))).rejects.toThrow(
      '[getEvaStateDict] peftConfig is required if model is not a PeftModel',
    );
    await expect(
      getEvaStateDict(model, batches(1, 10), { ...options, gatherDistributedInputs: true }),
    ).rejects.toThrow(
      '[getEvaStateDict] gatherDistributedInputs: true is not supported: lorakit has no distributed runtime (gather the inputs of all workers inside prepareLayerInputsFn instead)',
    );
  });

  it('names batches without the fields the language-modeling defaults read', async () => {
    const peft = getPeftModel(await loadInitEvaModel(), initEvaConfig());
    const ids = initEvaBatches()[0]!.inputIds;
    await expect(getEvaStateDict(peft, [ids], quiet)).rejects.toThrow(
      '[eva] When using prepareModelInputsFnLanguageModeling inputs must be an object like { inputIds, attentionMask?, labels? }, received a tensor of shape [4, 16]',
    );
    await expect(getEvaStateDict(peft, [{ input_ids: ids }], quiet)).rejects.toThrow(
      '[eva] the batch has neither attentionMask nor inputIds (the language-modeling prepareModelInputsFn reads them to find the tokens to keep); received an object with keys input_ids',
    );
    await expect(
      getEvaStateDict(peft, [{ inputIds: ids, labels: ids.narrow(1, 0, 3) }], quiet),
    ).rejects.toThrow('[eva] labels has shape [4, 3] but the attention mask / input ids have [4, 16]');
    await expect(
      getEvaStateDict(peft, [{ inputIds: ids }], { ...quiet, prepareModelInputsFn: null }),
    ).rejects.toThrow(
      '[eva] the language-modeling prepareLayerInputsFn needs the [N, 2] token positions that prepareModelInputsFnLanguageModeling returns, received an object with keys inputIds (with prepareModelInputsFn: null, also pass prepareLayerInputsFn: null to use every position)',
    );
  });

  it('rejects an invalid eva_config (rho < 1, tau outside [0, 1])', async () => {
    const { model, batches, options } = chain();
    const withEva = (eva: Record<string, unknown>) => ({
      ...options,
      peftConfig: new LoraConfig({ r: 2, targetModules: ['proj'], initLoraWeights: 'eva', evaConfig: eva }),
    });
    await expect(getEvaStateDict(model, batches(1, 10), withEva({ rho: 0.5 }))).rejects.toThrow(
      '[EvaConfig] `rho` must be >= 1.0, received 0.5',
    );
    await expect(getEvaStateDict(model, batches(1, 10), withEva({ tau: 1.5 }))).rejects.toThrow(
      '[EvaConfig] `tau` must be between 0.0 and 1.0, received 1.5',
    );
  });

  it('names layers that received no input on the first batch', async () => {
    const { model, batches, options } = chain();
    const skipFirst = (m: AnyModule, x: unknown) => m.child('head').call(x as Tensor);
    await expect(
      getEvaStateDict(model, batches(2, 10), { ...options, forwardFn: skipFirst }),
    ).rejects.toThrow(
      '[getEvaStateDict] layers block0.proj, block1.proj received no input in the forward pass of the first batch (does forwardFn run them?)',
    );
    expect(hookCount(model.getSubmodule('block0.proj'))).toBe(0);
  });

  it('stops after one pass over the data when a layer never gets enough rows (PEFT loops forever)', async () => {
    const { model, batches, options } = chain();
    // r 2 · rho 2 = 4 components, but every batch has 3 rows.
    await expect(getEvaStateDict(model, batches(3, 3), options)).rejects.toThrow(
      new EvaError(
        '[getEvaStateDict] layers block0.proj (needs 4), block1.proj (needs 4) never received enough rows: every one of the 3 batches had fewer rows than the layer has components (round(r·rho)) after masking, or the layer did not run. Use larger batches, fewer masked tokens (useLabelMask: false), or a smaller r or rho.',
      ),
    );
    for (const name of ['block0.proj', 'block1.proj']) expect(hookCount(model.getSubmodule(name))).toBe(0);
  });

  it('rejects a prepareLayerInputsFn mapping naming modules that are not targets', async () => {
    const { model, batches, options } = chain();
    const flat = (input: unknown) => (input as Tensor[])[0]!;
    await expect(
      getEvaStateDict(model, batches(1, 10), {
        ...options,
        prepareLayerInputsFn: { 'block0.proj': flat, q_proj: flat },
      }),
    ).rejects.toThrow(
      '[getEvaStateDict] prepareLayerInputsFn is a mapping but the following module names were not found in the model: q_proj; target layers: block0.proj, block1.proj',
    );
  });

  it('can be aborted', async () => {
    const { model, batches, options } = chain();
    const controller = new AbortController();
    const run = getEvaStateDict(model, batches(4, 12), {
      ...options,
      signal: controller.signal,
      onProgress: ({ step }) => step === 1 && controller.abort(),
    });
    await expect(run).rejects.toThrow('[getEvaStateDict] aborted');
  });
});

describe('getEvaStateDict: behaviour', () => {
  it('takes async and one-shot dataloaders and gives the same components as an array', async () => {
    const peft = getPeftModel(await loadInitEvaModel(), initEvaConfig());
    const expected = await getEvaStateDict(peft, initEvaBatches(), quiet);
    async function* stream() {
      for (const batch of initEvaBatches()) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        yield batch;
      }
    }
    function* once() {
      yield* initEvaBatches();
    }
    for (const loader of [stream(), once()]) {
      const actual = await getEvaStateDict(peft, loader, quiet);
      expect([...actual.keys()]).toEqual([...expected.keys()]);
      for (const [name, components] of actual)
        expect(components.toList()).toEqual(expected.get(name)!.toList());
    }
  });

  it('runs on a plain model with peftConfig (keys without the PeftModel prefix), equal to the PeftModel run', async () => {
    const plain = await getEvaStateDict(await loadInitEvaModel(), initEvaBatches(), {
      ...quiet,
      peftConfig: initEvaConfig(),
    });
    expect([...plain].map(([name, t]) => [name, t.shape[0]])).toEqual(
      Object.entries(initEvaSpec.ranks).map(([name, rank]) => [name.slice('base_model.model.'.length), rank]),
    );
    for (const [name, components] of plain) {
      expect(maxErrorUpToRowSign(components, initEvaIo.get(`eva.base_model.model.${name}`)!)).toBeLessThan(
        2e-5,
      );
    }
  });

  it('reports progress until every layer has converged, and restores the model', async () => {
    const model = await loadInitEvaModel();
    const peft = getPeftModel(model, initEvaConfig());
    peft.train();
    const progress: EvaProgress[] = [];
    await getEvaStateDict(peft, initEvaBatches(), { ...quiet, onProgress: (p) => progress.push(p) });
    expect(progress[0]).toEqual({ step: 0, convergedLayers: 0, totalLayers: 10 });
    expect(progress.at(-1)).toMatchObject({ convergedLayers: 10, totalLayers: 10 });
    expect(progress.map((p) => p.step)).toEqual(progress.map((_, i) => i));
    expect(peft.training && model.getSubmodule('model.layers.0').training).toBe(true);
    expect(peft.adaptersDisabled).toBe(false);
    for (const [, layer] of peft.loraLayers()) expect(hookCount(layer)).toBe(0);
    expect(peft).toBeInstanceOf(PeftModel);
  });

  it('ends each forward pass after the last fitting layer (default forward), with the same components', async () => {
    const peft = getPeftModel(await loadInitEvaModel(), initEvaConfig());
    const run = async (options: { stopForwardEarly?: boolean; forwardFn?: typeof forwardFnDict }) => {
      let heads = 0;
      let steps = 0;
      const handle = peft.getSubmodule('base_model.model.lm_head').registerForwardHook(() => {
        heads++;
        return undefined;
      });
      try {
        const stateDict = await getEvaStateDict(peft, initEvaBatches(), {
          ...quiet,
          ...options,
          onProgress: (p) => (steps = p.step),
        });
        return { stateDict, heads, steps };
      } finally {
        handle.remove();
      }
    };
    const early = await run({});
    const full = await run({ stopForwardEarly: false });
    const custom = await run({ forwardFn: forwardFnDict });
    // The first (hashing) pass runs the whole model; the fitting passes stop before the head.
    expect(early.heads).toBe(1);
    expect(full.heads).toBe(full.steps + 1);
    expect(custom.heads).toBe(custom.steps + 1);
    expect(early.steps).toBe(full.steps);
    for (const other of [full, custom]) {
      expect([...other.stateDict.keys()]).toEqual([...early.stateDict.keys()]);
      for (const [name, components] of early.stateDict)
        expect(components.toList()).toEqual(other.stateDict.get(name)!.toList());
    }
  });

  it('runs the whole forward pass when a fitting layer runs more than once per pass', async () => {
    const { model, batches, options } = chain(2, 8);
    // block0 runs twice per forward: its hook must see both calls, so no pass may end early.
    const twice = (m: AnyModule, x: unknown) =>
      m
        .child('head')
        .call(m.child('block1').call(m.child('block0').call(m.child('block0').call(x as Tensor))));
    let heads = 0;
    let steps = 0;
    const handle = model.child('head').registerForwardHook(() => {
      heads++;
      return undefined;
    });
    const data = batches(4, 12);
    const expected = await getEvaStateDict(model, data, { ...options, forwardFn: twice });
    handle.remove();
    class Twice extends Chain {
      override forward(x: Tensor): Tensor {
        return twice(this, x) as Tensor;
      }
    }
    manualSeed(7);
    const own = new Twice(2, 8);
    own.loadStateDict(model.stateDict());
    const ownHandle = own.child('head').registerForwardHook(() => {
      heads++;
      return undefined;
    });
    heads = 0;
    const actual = await getEvaStateDict(own, data, { ...options, onProgress: (p) => (steps = p.step) });
    ownHandle.remove();
    expect(heads).toBe(steps + 1);
    for (const [name, components] of actual)
      expect(components.toList()).toEqual(expected.get(name)!.toList());
  });

  it('caps an "unlimited" rho at max parameter dimension // r (PEFT), so components fit the layers', async () => {
    const { model, batches, options } = chain(2, 8);
    const peftConfig = new LoraConfig({
      r: 2,
      targetModules: ['proj'],
      initLoraWeights: 'eva',
      evaConfig: evaConfig({ rho: 5000, tau: 0.5 }),
    });
    // Uncapped, each layer would fit round(2 · 5000) components of 8 features; capped: 2 · (8 // 2) = 8.
    const stateDict = await getEvaStateDict(model, batches(3, 16), { ...options, peftConfig });
    const ranks = [...stateDict.values()].map((t) => t.shape[0]!);
    expect(ranks.reduce((a, b) => a + b)).toBe(4);
    expect(Math.max(...ranks)).toBeLessThanOrEqual(8);
  });
});
