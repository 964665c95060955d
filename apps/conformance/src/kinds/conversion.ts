import { join } from 'node:path';
import { loadAdapter, readAdapterConfig } from '@lorakit/lora';
import { readTensorFile, type Tensor } from '@lorakit/tensor';
import { type Check, PendingError } from '../report.js';
import type { CaseContext } from '../run.js';
import { compareTensors, readTensors, toleranceOf } from '../tensors.js';
import { adapterDir, loadBase, logits } from './models.js';
import { plugins } from './plugins.js';

interface AdapterWeights {
  config: ReturnType<typeof readAdapterConfig>;
  tensors: Map<string, Tensor>;
}

function readAdapter(dir: string): AdapterWeights {
  return { config: readAdapterConfig(dir), tensors: readTensorFile(join(dir, 'adapter_model.safetensors')) };
}

/** ΔW per module of a LoRA adapter's tensors (B·A · α/r; rank patterns are not used by the fixtures). */
function deltas({ config, tensors }: AdapterWeights): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const scale = config.scalingFor(config.r, config.loraAlpha);
  for (const [key, a] of tensors) {
    if (!key.endsWith('.lora_A.weight')) continue;
    const module = key.slice(0, -'.lora_A.weight'.length);
    const b = tensors.get(`${module}.lora_B.weight`)!;
    out.set(module, b.matmul(a).mul(scale));
  }
  return out;
}

/**
 * `conversion`: a PiSSA adapter (initial + trained, relative to the residual base) converted to plain LoRA
 * on the original base. Checks the fixture's converted adapter gives `logits_trained` on the original
 * base, and that lorakit's own conversion gives the same per-module deltas.
 */
export async function runConversion({ dir, spec }: CaseContext): Promise<Check[]> {
  const tolerance = toleranceOf(spec);
  const convert = (await plugins()).convertToLora;
  if (!convert)
    throw new PendingError('needs a plugin with convertToLora (e.g. @lorakit/inits-svd), none is installed');
  const io = readTensors(join(dir, 'io.safetensors'));
  const checks: Check[] = [];
  const onOriginal = loadAdapter(await loadBase(dir), adapterDir(dir, 'adapter'));
  checks.push(
    compareTensors(
      'logits_trained (fixture adapter on the original base)',
      logits(onOriginal, io),
      io.get('logits_trained')!,
      tolerance,
    ),
  );
  const ours = convert(readAdapter(join(dir, 'pissa_init')), readAdapter(join(dir, 'pissa_trained')));
  const expected = deltas(readAdapter(adapterDir(dir, 'adapter')));
  const actual = deltas({ config: ours.config, tensors: new Map(ours.tensors) });
  for (const [module, delta] of expected) {
    const mine = actual.get(module);
    if (!mine)
      checks.push({ name: `${module} delta`, error: Number.POSITIVE_INFINITY, bound: 'present', ok: false });
    else
      checks.push(compareTensors(`${module.replace('base_model.model.', '')} delta`, mine, delta, tolerance));
  }
  return checks;
}
