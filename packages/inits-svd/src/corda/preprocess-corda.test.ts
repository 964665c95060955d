import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getPeftModel, LoraConfig, type LoraLinear } from '@lorakit/lora';
import { Linear, Module } from '@lorakit/nn';
import { manualSeed, randn, type Tensor, tensor, zeros } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { expectClose, expectCloseUpToSign, maxError, references } from '../../test/helpers.js';
import { Holder, linearWith } from '../../test/modules.js';
import '../index.js';
import { readFloatTensors } from '../tensor-files.js';
import { cordaConfig } from './corda-config.js';
import { cordaEigensOf } from './eigens-store.js';
import { preprocessCorda } from './preprocess-corda.js';

const { tensors, cases } = references();

/** The reference case's layer and calibration run (one sequence per forward call). */
function referenceSetup(name: string, corda: Parameters<typeof cordaConfig>[0] = {}) {
  const { r, alpha, method } = cases[name] as { r: number; alpha: number; method: 'ipm' | 'kpm' };
  const model = new Holder(linearWith(tensors.get(`${name}.weight`)!));
  const inputs = tensors.get(`${name}.inputs`)!;
  let calls = 0;
  const run = () => {
    calls++;
    for (let i = 0; i < inputs.shape[0]!; i++) model.call(inputs.select(0, i).unsqueeze(0));
  };
  const config = new LoraConfig({
    r,
    loraAlpha: alpha,
    targetModules: ['proj'],
    initLoraWeights: 'corda',
    cordaConfig: cordaConfig({ cordaMethod: method, ...corda }),
  });
  return { model, run, config, runs: () => calls };
}

const temporary = () => mkdtempSync(join(tmpdir(), 'corda-'));

describe('preprocessCorda', () => {
  it('collects covariances and eigens as PEFT does, and the init matches PEFT (ipm and kpm)', async () => {
    for (const name of ['corda_ipm', 'corda_kpm', 'corda_kpm_few_tokens']) {
      const { model, run, config } = referenceSetup(name, { pruneTemporaryFields: false });
      const result = await preprocessCorda(model, config, run);
      expect(result.modules).toEqual(['proj']);
      expect(result.source).toBe('run_model');
      const fields = result.temporaryFields!.get('proj')!;
      expect(fields.sampleCount).toBe(cases[name]!.sample_count);
      expect(fields.rank).toBe(cases[name]!.r);
      expectClose(fields.covariance, tensors.get(`${name}.covariance`)!, 2e-5, `${name} covariance`);
      const eigens = cordaEigensOf(model.child('proj'))!;
      expectClose(eigens.s, tensors.get(`${name}.S`)!, 1e-4, `${name} S`);

      const peft = getPeftModel(model, config);
      const layer = peft.model.getSubmodule<LoraLinear>('proj');
      expect(cordaEigensOf(layer.baseLayer)).toBeUndefined();
      const { a, b } = layer.factorParameters('default');
      const expectedA = tensors.get(`${name}.lora_A`)!;
      expectCloseUpToSign(a, expectedA, 0, 1e-4 * expectedA.abs().max().item(), `${name} lora_A`);
      expectCloseUpToSign(b, tensors.get(`${name}.lora_B`)!, 1, 1e-4, `${name} lora_B`);
      expectClose(layer.baseWeight(), tensors.get(`${name}.base_after`)!, 1e-5, `${name} base_after`);
      expectClose(layer.baseWeight().add(layer.deltaWeight('default')), tensors.get(`${name}.weight`)!, 2e-6);
    }
  });

  it('writes the covariance file and reuses it without running the model', async () => {
    const dir = temporary();
    const covarianceFile = join(dir, 'nested', 'covariance.safetensors');
    const first = referenceSetup('corda_ipm', { covarianceFile });
    await preprocessCorda(first.model, first.config, first.run);
    const stored = readFloatTensors(covarianceFile);
    expect([...stored.keys()]).toEqual(['proj']);
    expectClose(stored.get('proj')!, tensors.get('corda_ipm.covariance')!, 2e-5);
    const expected = cordaEigensOf(first.model.child('proj'))!;

    const second = referenceSetup('corda_ipm', { covarianceFile });
    const result = await preprocessCorda(second.model, second.config);
    expect(result.source).toBe('covariance_file');
    expect(second.runs()).toBe(0);
    expect(maxError(cordaEigensOf(second.model.child('proj'))!.v, expected.v)).toBe(0);
  });

  it('writes the eigens cache and reuses it (rank-specific; the config’s method is not needed)', async () => {
    const cacheFile = join(temporary(), 'eigens.safetensors');
    const first = referenceSetup('corda_kpm', { cacheFile });
    await preprocessCorda(first.model, first.config, first.run);
    expect([...readFloatTensors(cacheFile).keys()].sort()).toEqual([
      'proj.eigens.S_WC',
      'proj.eigens.U_WC',
      'proj.eigens.V_WC',
    ]);
    const second = referenceSetup('corda_kpm', { cacheFile, cordaMethod: null });
    const result = await preprocessCorda(second.model, second.config, second.run);
    expect(result.source).toBe('cache_file');
    expect(second.runs()).toBe(0);
    const layer = getPeftModel(second.model, second.config).model.getSubmodule<LoraLinear>('proj');
    expectClose(layer.baseWeight(), tensors.get('corda_kpm.base_after')!, 1e-5);
  });

  it('reports what is missing from a cache or covariance file, and files it cannot read', async () => {
    const dir = temporary();
    const cacheFile = join(dir, 'eigens.safetensors');
    const first = referenceSetup('corda_kpm', { cacheFile });
    await preprocessCorda(first.model, first.config, first.run);
    const other = new Holder(linearWith(tensors.get('corda_kpm.weight')!));
    const renamed = new (class extends Module {
      constructor() {
        super();
        this.registerModule('other', other);
      }
      forward(x: Tensor) {
        return this.child('other').call(x);
      }
    })();
    const config = new LoraConfig({
      r: 3,
      targetModules: ['proj'],
      initLoraWeights: 'corda',
      cordaConfig: cordaConfig({ cacheFile }),
    });
    await expect(preprocessCorda(renamed, config)).rejects.toThrow(
      `[preprocessCorda] cache_file ${cacheFile} has no entry for other.proj; it holds proj.eigens.S_WC, proj.eigens.U_WC, proj.eigens.V_WC (was it built for another model or target_modules?)`,
    );
    const pickle = join(dir, 'covariance.pt');
    writeFileSync(pickle, 'PK\u0003\u0004 not safetensors');
    const setup = referenceSetup('corda_ipm', { covarianceFile: pickle });
    await expect(preprocessCorda(setup.model, setup.config, setup.run)).rejects.toThrow(
      `[preprocessCorda] cannot read covariance_file ${pickle}:`,
    );
    await expect(preprocessCorda(setup.model, setup.config, setup.run)).rejects.toThrow(
      "(lorakit stores CorDA files as safetensors; PEFT's torch.save files cannot be read)",
    );
  });

  it('keeps no temporary fields by default and logs progress when verbose', async () => {
    const lines: string[] = [];
    const { model, run, config } = referenceSetup('corda_ipm', { verbose: true });
    const result = await preprocessCorda(model, config, run, { log: (line) => lines.push(line) });
    expect(result.temporaryFields).toBeNull();
    expect(lines).toEqual(['Collecting eigens 1/1: proj']);
  });

  it('keeps the input dtype with use_float16_for_covariance (float16 covariances, stored as F16)', async () => {
    const covarianceFile = join(temporary(), 'covariance.safetensors');
    const { model, config } = referenceSetup('corda_ipm', {
      useFloat16ForCovariance: true,
      pruneTemporaryFields: false,
      covarianceFile,
    });
    const inputs = tensors.get('corda_ipm.inputs')!.cast('float16');
    const result = await preprocessCorda(model, config, () => {
      for (let i = 0; i < inputs.shape[0]!; i++) model.call(inputs.select(0, i).unsqueeze(0));
    });
    const covariance = result.temporaryFields!.get('proj')!.covariance;
    expect(covariance.dtype).toBe('float16');
    expect(readFloatTensors(covarianceFile).get('proj')!.dtype).toBe('float16');
    // Half precision costs accuracy, not the result: the float32 covariance agrees to fp16 rounding.
    const reference = tensors.get('corda_ipm.covariance')!;
    expectClose(covariance.float(), reference, 2e-3 * reference.abs().max().item(), 'fp16 covariance');
  });

  it('hooks another model when asked (PEFT’s hooked_model), matching layers by name', async () => {
    const { model, config } = referenceSetup('corda_ipm');
    const hooked = new Holder(linearWith(tensors.get('corda_ipm.weight')!));
    const inputs = tensors.get('corda_ipm.inputs')!;
    await preprocessCorda(
      model,
      config,
      () => {
        for (let i = 0; i < inputs.shape[0]!; i++) hooked.call(inputs.select(0, i).unsqueeze(0));
      },
      { hookedModel: hooked },
    );
    expectClose(cordaEigensOf(model.child('proj'))!.s, tensors.get('corda_ipm.S')!, 1e-4);
    expect(cordaEigensOf(hooked.child('proj'))).toBeUndefined();
  });

  it('resolves target_modules like getPeftModel: regexes, rank_pattern, exclude_modules', async () => {
    manualSeed(0);
    class Two extends Module {
      constructor() {
        super();
        this.registerModule('q_proj', new Linear(6, 6));
        this.registerModule('v_proj', new Linear(6, 4));
      }
      forward(x: Tensor) {
        return this.child('v_proj').call(this.child('q_proj').call(x));
      }
    }
    const model = new Two();
    const config = new LoraConfig({
      r: 2,
      targetModules: '.*_proj',
      excludeModules: ['q_proj'],
      rankPattern: { v_proj: 3 },
      initLoraWeights: 'corda',
      cordaConfig: cordaConfig({ pruneTemporaryFields: false }),
    });
    const result = await preprocessCorda(model, config, () => {
      model.call(randn([1, 5, 6]));
    });
    expect(result.modules).toEqual(['v_proj']);
    expect(result.temporaryFields!.get('v_proj')!.rank).toBe(3);
    expect(cordaEigensOf(model.child('v_proj'))!.s.shape).toEqual([3]);
  });
});

describe('preprocessCorda errors', () => {
  it('needs run_model when no file holds the covariances', async () => {
    const { model, config } = referenceSetup('corda_ipm');
    await expect(preprocessCorda(model, config)).rejects.toThrow(
      "[preprocessCorda] run_model must be specified when covariance file and cache file aren't built.",
    );
  });

  it('fails for a layer the calibration run never reached', async () => {
    const { model, config } = referenceSetup('corda_ipm');
    await expect(preprocessCorda(model, config, () => {})).rejects.toThrow(
      '[preprocessCorda] no covariance was collected for proj: run_model never ran this layer (sample count 0)',
    );
  });

  it('needs one sequence per forward call', async () => {
    const { model, config } = referenceSetup('corda_ipm');
    await expect(preprocessCorda(model, config, () => void model.call(randn([2, 4, 10])))).rejects.toThrow(
      '[preprocessCorda] proj received an input of shape [2, 4, 10]; CorDA collects one sequence per forward call, so run_model must feed batches of size 1 (inputs of shape [1, tokens, in_features])',
    );
  });

  it('rejects inputs that cannot be normalized (NaN, or a largest element of 0)', async () => {
    const { model, config } = referenceSetup('corda_ipm');
    await expect(preprocessCorda(model, config, () => void model.call(zeros([1, 4, 10])))).rejects.toThrow(
      '[preprocessCorda] Invalid value found in input, please check your input data. (the input of proj has NaN/Inf values, or its largest element is 0)',
    );
    // The hooks are gone after a failure: the model runs normally again.
    expect(model.call(randn([1, 4, 10])).shape).toEqual([1, 4, 7]);
  });

  it('rejects inputs whose covariance overflows float32', async () => {
    const { model, config } = referenceSetup('corda_ipm');
    const huge = zeros([1, 2, 10])
      .add(1)
      .sub(tensor([1e20, 0, 0, 0, 0, 0, 0, 0, 0, 0]).mul(tensor([[1], [0]])));
    await expect(preprocessCorda(model, config, () => void model.call(huge))).rejects.toThrow(
      '[preprocessCorda] Invalid value found in covariance of proj. Please file an issue at https://github.com/huggingface/peft/issues.',
    );
  });

  it('reports targets missing from a covariance file', async () => {
    const covarianceFile = join(temporary(), 'covariance.safetensors');
    const first = referenceSetup('corda_ipm', { covarianceFile });
    await preprocessCorda(first.model, first.config, first.run);
    const model = new Holder(linearWith(tensors.get('corda_ipm.weight')!));
    const config = new LoraConfig({
      r: 3,
      targetModules: ['proj', 'other'],
      initLoraWeights: 'corda',
      cordaConfig: cordaConfig({ covarianceFile }),
    });
    const wider = new (class extends Module {
      constructor() {
        super();
        this.registerModule('proj', model.child('proj'));
        this.registerModule('other', new Linear(10, 3));
      }
      forward(x: Tensor) {
        return this.child('other').call(this.child('proj').call(x));
      }
    })();
    await expect(preprocessCorda(wider, config)).rejects.toThrow(
      `[preprocessCorda] covariance_file ${covarianceFile} has no entry for other; it holds proj (was it built for another model or target_modules?)`,
    );
  });

  it('needs target_modules when the model type has no defaults', async () => {
    const { model, run } = referenceSetup('corda_ipm');
    const config = new LoraConfig({ r: 3, initLoraWeights: 'corda' });
    await expect(preprocessCorda(model, config, run)).rejects.toThrow(
      '[preprocessCorda] target_modules is not set and model_type "custom" has no default targets; set target_modules',
    );
  });

  it('needs corda_method unless a cache file is given, and a known method', async () => {
    const { model, run, config } = referenceSetup('corda_ipm', { cordaMethod: null });
    await expect(preprocessCorda(model, config, run)).rejects.toThrow(
      '[preprocessCorda] corda_method is required when cache_file is not provided.',
    );
    const bad = new LoraConfig({
      r: 3,
      targetModules: ['proj'],
      initLoraWeights: 'corda',
      cordaConfig: { corda_method: 'pca' },
    });
    await expect(preprocessCorda(model, bad, run)).rejects.toThrow(
      `[CordaConfig] Invalid corda_method found: "pca", it should be 'ipm' or 'kpm'.`,
    );
  });

  it('fails when target_modules selects no linear layer', async () => {
    const { model, run } = referenceSetup('corda_ipm');
    const config = new LoraConfig({ r: 3, targetModules: ['q_proj'], initLoraWeights: 'corda' });
    await expect(preprocessCorda(model, config, run)).rejects.toThrow(
      '[preprocessCorda] target_modules ["q_proj"] matched no nn.Linear or Conv1D module of the model',
    );
  });
});
