import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getPeftModel, loadAdapter, readAdapterConfig } from '@lorakit/lora';
import type { Check } from '../report.js';
import type { CaseContext } from '../run.js';
import { compareTensors, readTensors, toleranceOf } from '../tensors.js';
import { adapterDir, loadBase, logits } from './models.js';

function countCheck(name: string, actual: number, expected: unknown): Check[] {
  if (typeof expected !== 'number') return [];
  return [
    {
      name,
      error: Math.abs(actual - expected),
      bound: 'exact',
      ok: actual === expected,
      note: `${actual} vs ${expected}`,
    },
  ];
}

/** `forward`: base, adapter, disabled and merged logits, and PEFT's parameter counts. */
export async function runForward({ dir, spec }: CaseContext): Promise<Check[]> {
  const tolerance = toleranceOf(spec);
  const io = readTensors(join(dir, 'io.safetensors'));
  const checks: Check[] = [];
  const base = await loadBase(dir);
  if (io.has('logits_base'))
    checks.push(compareTensors('logits_base', logits(base, io), io.get('logits_base')!, tolerance));

  // PEFT's counts are taken right after wrapping in training mode (not inference mode).
  const counted = getPeftModel(await loadBase(dir), {
    ...readAdapterConfig(adapterDir(dir, 'adapter')).toOptions(),
    inferenceMode: false,
  });
  const counts = counted.train().trainableParameterCounts();
  checks.push(...countCheck('trainable_params', counts.trainable, spec.trainable_params));
  checks.push(...countCheck('all_params', counts.total, spec.all_params));

  const peft = loadAdapter(base, adapterDir(dir, 'adapter'));
  if (io.has('logits_adapter'))
    checks.push(compareTensors('logits_adapter', logits(peft, io), io.get('logits_adapter')!, tolerance));
  if (io.has('logits_disabled')) {
    const disabled = peft.withAdaptersDisabled(() => logits(peft, io));
    checks.push(compareTensors('logits_disabled', disabled, io.get('logits_disabled')!, tolerance));
  }
  if (io.has('logits_merged')) {
    const merged = peft.mergeAndUnload({ safeMerge: true });
    checks.push(compareTensors('logits_merged', logits(merged, io), io.get('logits_merged')!, tolerance));
  }
  return checks;
}

/** `multi_adapter`: two adapters, each active alone, then a mixed batch with per-row adapter names. */
export async function runMultiAdapter({ dir, spec }: CaseContext): Promise<Check[]> {
  const tolerance = toleranceOf(spec);
  const io = readTensors(join(dir, 'io.safetensors'));
  const adapters = (spec.adapters as Record<string, string> | undefined) ?? {
    alpha: 'adapter/alpha',
    beta: 'adapter/beta',
  };
  const base = await loadBase(dir);
  const checks: Check[] = [];
  if (io.has('logits_base'))
    checks.push(compareTensors('logits_base', logits(base, io), io.get('logits_base')!, tolerance));
  let peft: ReturnType<typeof loadAdapter> | undefined;
  for (const [name, path] of Object.entries(adapters)) {
    // PEFT saves a non-default adapter in a subfolder named after it.
    const folder = existsSync(join(dir, path, 'adapter_config.json'))
      ? join(dir, path)
      : join(dir, path, name);
    peft = loadAdapter(peft ?? base, folder, { adapterName: name });
  }
  for (const name of Object.keys(adapters)) {
    peft!.setAdapter(name);
    peft!.eval();
    checks.push(compareTensors(`logits_${name}`, logits(peft!, io), io.get(`logits_${name}`)!, tolerance));
  }
  const rows = spec.mixed_adapter_names as string[] | undefined;
  if (rows && io.has('logits_mixed')) {
    checks.push(
      compareTensors(
        'logits_mixed',
        logits(peft!, io, { adapterNames: rows }),
        io.get('logits_mixed')!,
        tolerance,
      ),
    );
  }
  return checks;
}
