import { join } from 'node:path';
import { getPeftModel, type LoraLinear, readAdapterConfig } from '@lorakit/lora';
import type { Tensor } from '@lorakit/tensor';
import { type Check, PendingError } from '../report.js';
import type { CaseContext } from '../run.js';
import { compareUpToSign, readTensors } from '../tensors.js';
import { adapterDir, loadBase } from './models.js';

const PREFIX = 'base_model.model.';

/**
 * Component tolerance: EVA's incremental PCA repeats PEFT's arithmetic, but float32 rounding of the
 * layer inputs (~1e-7) is amplified by 1/(singular-value gap) over the updates; @lorakit/eva measures
 * ≤ 2.3e-6 on init_eva. A wrong sketch, mask or update gives errors of 1e-2 and more.
 */
const COMPONENT_TOLERANCE = { atol: 2e-5, rtol: 0 };

interface EvaPackage {
  initializeLoraEvaWeights(
    peft: unknown,
    data: Iterable<unknown>,
    options?: { log?: (m: string) => void },
  ): Promise<{ ranks: Map<string, number> }>;
  getEvaStateDict(
    peft: unknown,
    data: Iterable<unknown>,
    options?: { log?: (m: string) => void },
  ): Promise<Map<string, Tensor>>;
}

/** `eva`: EVA on the case's calibration batches — ranks and patterns exact, components and lora_A up to sign. */
export async function runEva({ dir, spec }: CaseContext): Promise<Check[]> {
  let eva: EvaPackage;
  try {
    const specifier = '@lorakit/eva';
    eva = (await import(specifier)) as EvaPackage;
  } catch {
    throw new PendingError('needs @lorakit/eva, which is not built yet');
  }
  const io = readTensors(join(dir, 'io.safetensors'));
  const batches: unknown[] = [];
  for (let i = 0; io.has(`batch${i}.input_ids`); i++) {
    batches.push({
      inputIds: io.get(`batch${i}.input_ids`),
      attentionMask: io.get(`batch${i}.attention_mask`),
      labels: io.get(`batch${i}.labels`),
    });
  }
  const saved = readAdapterConfig(adapterDir(dir, 'adapter'));
  const options = { ...saved.toOptions(), rankPattern: {}, alphaPattern: {}, inferenceMode: false };
  const checks: Check[] = [];
  const quiet = { log: () => {} };

  const components = await eva.getEvaStateDict(getPeftModel(await loadBase(dir), options), batches, quiet);
  for (const [name, t] of components) {
    const expected = io.get(`eva.${name}`);
    if (!expected) continue;
    checks.push(
      compareUpToSign(
        `eva.${name.slice(PREFIX.length)}`,
        t.cast('float32'),
        expected,
        0,
        COMPONENT_TOLERANCE,
      ),
    );
  }

  const peft = getPeftModel(await loadBase(dir), options);
  const result = await eva.initializeLoraEvaWeights(peft, batches, quiet);
  const config = peft.peftConfig.get('default')!;
  const exact = (name: string, actual: unknown, expected: unknown): Check => {
    const ok = JSON.stringify(actual) === JSON.stringify(expected);
    return {
      name,
      error: ok ? 0 : 1,
      bound: 'exact',
      ok,
      note: ok ? undefined : `${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`,
    };
  };
  const ranks = Object.fromEntries([...result.ranks].map(([name, r]) => [`${PREFIX}${name}`, r]));
  const wantRanks = spec.ranks as Record<string, number>;
  checks.push(
    exact('ranks', Object.fromEntries(Object.keys(wantRanks).map((k) => [k, ranks[k]])), wantRanks),
  );
  checks.push(exact('rank_pattern', config.rankPattern, spec.rank_pattern));
  checks.push(exact('alpha_pattern', config.alphaPattern, spec.alpha_pattern));
  for (const [path, layer] of peft.loraLayers()) {
    const expected = io.get(`${path}.lora_A`);
    if (!expected || !layer.hasAdapter('default')) continue;
    checks.push(
      compareUpToSign(
        `${path}.lora_A`,
        (layer as LoraLinear).loraA('default').weight,
        expected,
        0,
        COMPONENT_TOLERANCE,
      ),
    );
  }
  return checks;
}
