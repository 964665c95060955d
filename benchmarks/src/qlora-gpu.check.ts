/**
 * QLoRA on the GPU: the tiny Llama of the shared LoftQ fixture quantized to NF4 (and int8), LoRA on all
 * linear layers, trained for a few steps on `cuda` with nn's `train`. Host transfers of the backend are
 * counted per step (a wrapper around its toHost/fromHost): a step — forward with on-device
 * dequantization, loss, backward, clipping, AdamW — must make none. Exits 1 when one does. Needs a GPU;
 * says why not and exits 0 without one.
 */
import { join } from 'node:path';
import { loadQuantizedModel, prepareModelForKbitTraining } from '@lorakit/loftq';
import { getPeftModel, LoraConfig } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import { AdamW, train } from '@lorakit/nn';
import { getBackend, manualSeed, randint, setDefaultBackend, type Tensor } from '@lorakit/tensor';

const cuda = (await import('@lorakit/cuda-backend')) as typeof import('@lorakit/cuda-backend');
if (cuda.unavailableReason !== undefined) {
  console.log(`QLoRA GPU check skipped: ${cuda.unavailableReason}`);
  process.exit(0);
}
setDefaultBackend('cuda');
const backend = getBackend('cuda') as ReturnType<typeof getBackend> & { describe(): string };
console.log(`GPU: ${backend.describe()}`);
const counts = { toHost: 0, fromHost: 0 };
const { toHost, fromHost } = backend;
backend.toHost = (view) => {
  counts.toHost++;
  return toHost.call(backend, view);
};
backend.fromHost = (data, dtype) => {
  counts.fromHost++;
  return fromHost.call(backend, data, dtype);
};

const fixture = join(import.meta.dirname, '..', '..', 'fixtures', 'peft', 'init_loftq_4bit_1iter', 'base');
const TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
let failed = false;
for (const bits of ['4bit', '8bit'] as const) {
  const model = await loadQuantizedModel(fixture, { quantize: bits, load: loadModel });
  prepareModelForKbitTraining(model);
  const peft = getPeftModel(model, new LoraConfig({ r: 8, loraAlpha: 16, targetModules: TARGETS }));
  manualSeed(17);
  const inputIds = randint(0, 96, [4, 32], { dtype: 'int64' });
  const perStep: string[] = [];
  let mark = { ...counts };
  const result = await train({
    model: peft,
    data: Array.from({ length: 20 }, () => inputIds),
    optimizer: new AdamW(
      peft.parameters().filter((p) => p.requiresGrad),
      { lr: 1e-2 },
    ),
    maxGradNorm: 1,
    computeLoss: (ids) => (peft.call({ inputIds: ids, labels: ids }) as { loss: Tensor }).loss,
    callbacks: {
      onStep: () => {
        perStep.push(`${counts.toHost - mark.toHost}/${counts.fromHost - mark.fromHost}`);
        mark = { ...counts };
      },
    },
  });
  const clean = perStep.every((s) => s === '0/0');
  failed ||= !clean;
  console.log(
    `${bits}: ${perStep.length} steps, final loss ${result.loss?.toFixed(4)}; host transfers per step (toHost/fromHost): ${perStep.join(' ')} — ${clean ? 'none' : 'SOME'}`,
  );
}
process.exitCode = failed ? 1 : 0;
