import { join } from 'node:path';
import { adapterTensors, loadAdapter, type PeftModel } from '@lorakit/lora';
import { AdamW, type Parameter, SGD } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import { type Check, compareArrays } from '../report.js';
import type { CaseContext } from '../run.js';
import { compareTensors, readTensors, toleranceOf } from '../tensors.js';
import { adapterDir, loadBase } from './models.js';

/**
 * `train`: from `adapter_start/` on `base/`, causal-LM loss with labels = input_ids, backward,
 * optimizer step — `steps` times. Compares the loss before each step, the first step's gradients, and the
 * adapter after the last step.
 */
export async function runTrain({ dir, spec }: CaseContext): Promise<Check[]> {
  const tolerance = toleranceOf(spec);
  const io = readTensors(join(dir, 'io.safetensors'));
  const peft: PeftModel = loadAdapter(await loadBase(dir), adapterDir(dir, 'adapter_start'), {
    isTrainable: true,
  });
  peft.train();
  const params = peft.parameters().filter((p) => p.requiresGrad);
  const lr = Number(spec.lr);
  const adamw = spec.adamw as { betas: [number, number]; eps: number; weight_decay: number } | undefined;
  const optimizer =
    spec.optimizer === 'sgd'
      ? new SGD(params, { lr })
      : new AdamW(params, { lr, betas: adamw?.betas, eps: adamw?.eps, weightDecay: adamw?.weight_decay });
  const inputIds = io.get('input_ids')!;
  const steps = Number(spec.steps);
  const losses: number[] = [];
  const checks: Check[] = [];
  const named = new Map<Parameter, string>(peft.model.namedParameters().map(([n, p]) => [p, n]));
  for (let step = 0; step < steps; step++) {
    const out = peft.call({ inputIds, labels: inputIds }) as { loss: Tensor };
    losses.push(out.loss.item());
    out.loss.backward();
    if (step === 0) {
      for (const p of params) {
        const key = `grad0.${named.get(p)}`;
        if (io.has(key)) checks.push(compareTensors(key, p.grad!, io.get(key)!, tolerance));
      }
    }
    optimizer.step();
    optimizer.zeroGrad();
  }
  checks.push(compareArrays('losses', losses, io.get('losses')!.toArray() as Float32Array, tolerance));
  const expected = readTensors(join(adapterDir(dir, 'adapter'), 'adapter_model.safetensors'));
  for (const [key, param] of adapterTensors(peft, 'default')) {
    const want = expected.get(key);
    if (want)
      checks.push(
        compareTensors(
          `after ${steps} steps: ${key.replace('base_model.model.', '')}`,
          param,
          want,
          tolerance,
        ),
      );
    else
      checks.push({
        name: key,
        error: Number.POSITIVE_INFINITY,
        bound: 'present',
        ok: false,
        note: 'missing from adapter/',
      });
  }
  return checks;
}
