import { join } from 'node:path';
import {
  findInitStrategy,
  getPeftModel,
  initPackageHint,
  type LoraLayer,
  readAdapterConfig,
} from '@lorakit/lora';
import type { Tensor } from '@lorakit/tensor';
import { type Check, PendingError } from '../report.js';
import type { CaseContext } from '../run.js';
import { compareTensors, compareUpToSign, readTensors, toleranceOf } from '../tensors.js';
import { adapterDir, loadBase } from './models.js';
import { plugins } from './plugins.js';

function std(t: Tensor): number {
  return t.double().std(undefined, { correction: 0 }).item();
}

/**
 * `init`: initialize the adapter named in `adapter/adapter_config.json` on `base/` and compare each LoRA
 * module's factors, residual base weight and delta. Random inits compare distributions; SVD/QR-based ones
 * compare delta and base_after exactly and the factors up to per-component sign.
 */
export async function runInit(context: CaseContext): Promise<Check[]> {
  const { dir, spec } = context;
  await plugins();
  const config = readAdapterConfig(adapterDir(dir, 'adapter'));
  const value = config.initLoraWeights;
  const strategy = findInitStrategy(value);
  if (!strategy) {
    throw new PendingError(
      `init_lora_weights=${JSON.stringify(value)} needs ${initPackageHint(value) ?? 'a plugin that registers it'}, which is not installed`,
    );
  }
  const tolerance = toleranceOf(spec, { atol: 1e-4, rtol: 1e-4 });
  const io = readTensors(join(dir, 'io.safetensors'));
  const base = await loadBase(dir);
  const original = new Map(base.namedParameters().map(([n, p]) => [n, p.detach().clone()]));
  const hooks = await plugins();
  await hooks.beforeInject(base, config, context);
  const peft = getPeftModel(base, { ...config.toOptions(), inferenceMode: false });
  const layers = new Map(peft.loraLayers());
  const modules = [
    ...new Set([...io.keys()].filter((k) => k.endsWith('.lora_A')).map((k) => k.slice(0, -'.lora_A'.length))),
  ];
  const checks: Check[] = [];
  const random = value === true || value === 'gaussian' || value === false || spec.random === true;
  for (const module of modules) {
    const layer = layers.get(module) as LoraLayer | undefined;
    if (!layer) {
      checks.push({
        name: module,
        error: Number.POSITIVE_INFINITY,
        bound: 'present',
        ok: false,
        note: 'module was not targeted',
      });
      continue;
    }
    const { a, b } = layer.factorParameters('default');
    const delta = layer.deltaWeight('default');
    const baseAfter = layer.baseWeight();
    if (random) {
      const expectedA = io.get(`${module}.lora_A`)!;
      const ratio = std(a) / std(expectedA);
      checks.push({
        name: `${module}.lora_A std`,
        error: Math.abs(ratio - 1),
        bound: '|ours/PEFT − 1| ≤ 0.3',
        ok: Math.abs(ratio - 1) <= 0.3,
        note: `${std(a).toExponential(3)} vs ${std(expectedA).toExponential(3)}`,
      });
      if (value === true) {
        const bound = 1 / Math.sqrt(a.shape[1]!);
        const max = a.abs().max().item();
        checks.push({
          name: `${module}.lora_A range`,
          error: Math.max(0, max - bound),
          bound: `|A| ≤ 1/√fan_in = ${bound.toFixed(5)}`,
          ok: max <= bound,
        });
      }
      if (spec.random === true) {
        // A random init with a fixed product (orthogonal: B·A = 0): B by its distribution, delta by atol.
        const expectedB = io.get(`${module}.lora_B`)!;
        const ratioB = std(b) / std(expectedB);
        checks.push({
          name: `${module}.lora_B std`,
          error: Math.abs(ratioB - 1),
          bound: '|ours/PEFT − 1| ≤ 0.3',
          ok: Math.abs(ratioB - 1) <= 0.3,
        });
        checks.push(compareTensors(`${module}.delta`, delta, io.get(`${module}.delta`)!, tolerance));
      } else {
        checks.push(compareTensors(`${module}.lora_B`, b, io.get(`${module}.lora_B`)!, { atol: 0, rtol: 0 }));
        checks.push(
          compareTensors(`${module}.delta`, delta, io.get(`${module}.delta`)!, { atol: 0, rtol: 0 }),
        );
      }
      checks.push(
        compareTensors(`${module}.base_after`, baseAfter, io.get(`${module}.base_after`)!, tolerance),
      );
    } else {
      checks.push(compareTensors(`${module}.delta`, delta, io.get(`${module}.delta`)!, tolerance));
      checks.push(
        compareTensors(`${module}.base_after`, baseAfter, io.get(`${module}.base_after`)!, tolerance),
      );
      checks.push(compareUpToSign(`${module}.lora_A`, a, io.get(`${module}.lora_A`)!, 0, tolerance));
      checks.push(compareUpToSign(`${module}.lora_B`, b, io.get(`${module}.lora_B`)!, 1, tolerance));
      const originalWeight = original.get(`${module}.weight`);
      // An init that rewrites the base (its strategy says so) keeps base + delta = original when it splits
      // the weight exactly; a lossy one (LoftQ quantizes the base) does not — PEFT's own tensors tell which.
      if (originalWeight && strategy.modifiesBaseWeight) {
        const name = `${module}.base_after + delta = original`;
        const peft = io.get(`${module}.base_after`)!.add(io.get(`${module}.delta`)!);
        if (compareTensors(name, peft, originalWeight, tolerance).ok) {
          checks.push(compareTensors(name, baseAfter.add(delta), originalWeight, tolerance));
        }
      }
    }
  }
  return checks;
}
