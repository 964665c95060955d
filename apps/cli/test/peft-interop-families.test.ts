import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getPeftModel, LoraConfig, saveAdapter } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import { SafetensorsFile } from '@lorakit/safetensors';
import { manualSeed, noGrad, type Tensor, tensor } from '@lorakit/tensor';
import { extraFixturesDir, repoRoot } from '@lorakit/vitest-config/fixtures';
import { beforeAll, describe, expect, it } from 'vitest';
import { temporaryDirectory } from './run-cli.js';

/** The tensors of a case's io.safetensors (int64 ids stay int64). */
function readTensorFile(path: string): Map<string, Tensor> {
  const file = SafetensorsFile.open(path);
  try {
    const out = new Map<string, Tensor>();
    for (const info of file.tensors) {
      const { data, shape } = file.readSync(info.name);
      out.set(
        info.name,
        tensor(data as Float32Array, { shape, dtype: info.dtype === 'I64' ? 'int64' : 'float32' }),
      );
    }
    return out;
  } finally {
    file.close();
  }
}

/** The reference Python stack (torch, transformers, peft), when this checkout has one. */
function referencePython(): { python?: string; reason: string } {
  const python = join(repoRoot, '.venv-ref', 'bin', 'python');
  if (!existsSync(python)) return { reason: `${python} does not exist (see the README: .venv-ref)` };
  const probe = spawnSync(python, ['-c', 'import peft, transformers, torch'], { encoding: 'utf8' });
  if (probe.status === 0) return { python, reason: '' };
  return { reason: `${python} cannot import peft: ${probe.stderr.trim().split('\n').at(-1)}` };
}
const reference = referencePython();

// PEFT loads each base in transformers with the adapter lorakit wrote and prints the logits on the case
// inputs (one Python process for all cases: importing torch dominates).
const PEFT_LOGITS = `
import json, sys, torch, transformers
from peft import PeftModel
from safetensors.torch import load_file
out = {}
for job in json.loads(sys.argv[1]):
    config = transformers.AutoConfig.from_pretrained(job["base"])
    cls = getattr(transformers, config.architectures[0])
    # eager attention: SDPA would drop Gemma 2's attention soft-capping
    base = cls.from_pretrained(job["base"], attn_implementation="eager")
    model = PeftModel.from_pretrained(base, job["adapter"]).eval()
    io = load_file(job["io"])
    with torch.no_grad():
        out[job["name"]] = model(**{name: io[name] for name in job["inputs"]}).logits.flatten().tolist()
print(json.dumps(out))
`;

const cases = existsSync(extraFixturesDir)
  ? readdirSync(extraFixturesDir).filter((name) => /^(t5|gptj|gemma2|phi3)_/.test(name))
  : [];
const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

describe('PEFT loads the adapters lorakit writes for T5, GPT-J, Gemma 2 and Phi-3', () => {
  const ours = new Map<string, Float32Array>();
  let theirs: Record<string, number[]> = {};
  let failure = '';

  beforeAll(async () => {
    if (!reference.python) return;
    const jobs = [];
    for (const name of cases) {
      const dir = join(extraFixturesDir, name);
      const spec = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as { inputs: string[] };
      const io = readTensorFile(join(dir, 'io.safetensors'));
      manualSeed(7);
      // Random lora_B (initLoraWeights false) so that the adapter changes the logits; all linear layers.
      const config = new LoraConfig({
        r: 4,
        loraAlpha: 8,
        targetModules: 'all-linear',
        initLoraWeights: false,
      });
      const peft = getPeftModel(await loadModel(join(dir, 'base')), config);
      const adapter = join(temporaryDirectory(), name);
      await saveAdapter(peft, adapter);
      peft.eval();
      const inputs = Object.fromEntries(spec.inputs.map((key) => [camel(key), io.get(key)!]));
      ours.set(
        name,
        noGrad(() => (peft.call(inputs) as { logits: Tensor }).logits).toArray() as Float32Array,
      );
      jobs.push({
        name,
        base: join(dir, 'base'),
        adapter,
        io: join(dir, 'io.safetensors'),
        inputs: spec.inputs,
      });
    }
    const run = spawnSync(reference.python, ['-c', PEFT_LOGITS, JSON.stringify(jobs)], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    if (run.status !== 0) failure = run.stderr;
    else theirs = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
  }, 300_000);

  it('finds the family cases', () => expect(cases.length).toBeGreaterThanOrEqual(4));

  for (const name of cases) {
    it.skipIf(!reference.python)(
      `${name}: same logits in PEFT${reference.python ? '' : ` (skipped: ${reference.reason})`}`,
      () => {
        expect(failure).toBe('');
        const values = Array.from(ours.get(name)!);
        expect(values).toHaveLength(theirs[name]!.length);
        const error = Math.max(...values.map((v, i) => Math.abs(v - theirs[name]![i]!)));
        expect(error).toBeLessThan(1e-4);
      },
    );
  }
});
