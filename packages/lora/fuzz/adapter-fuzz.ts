/**
 * Fuzzing the adapter loader: a valid adapter for a tiny model has its config fields replaced by values
 * of the wrong type or range (null, "false", 1e9, nested objects, broken regexes …) and its weights file
 * edited (keys dropped, added or renamed, shapes changed, integer dtypes, no tensors, damaged bytes).
 * `loadAdapter` must then either
 *
 * - succeed, with every config field of its schema type and every LoRA parameter equal to the file's
 *   tensor (nothing accepted silently wrong), or
 * - throw a LorakitError with a short message, leaving the caller's model exactly as it was (no LoRA
 *   layer injected, trainability unchanged).
 *
 * Anything else (a TypeError, a RangeError, a half-changed model) is a failure. The vitest suite runs a
 * few seeded seconds (`src/io/fuzz.test.ts`); `pnpm fuzz` runs it for as long as asked.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Linear, Module } from '@lorakit/nn';
import { serializeSafetensors, type TensorEntry } from '@lorakit/safetensors';
import { LorakitError, type Tensor } from '@lorakit/tensor';
import fc from 'fast-check';
import { loraConfigOptionsSchema } from '../src/config/config-schema.js';
// The package entry registers the built-in layer dispatchers and inits that loading needs.
import { dumpPythonJson, loadAdapter } from '../src/index.js';

export const MAX_MESSAGE_LENGTH = 2000;

class Pair extends Module {
  constructor() {
    super();
    this.registerModule('q_proj', new Linear(4, 4, { init: false }));
    this.registerModule('v_proj', new Linear(4, 6, { init: false }));
  }
  forward(x: Tensor): Tensor {
    return this.child('q_proj').call(x);
  }
}

const KEYS = {
  qa: 'base_model.model.q_proj.lora_A.weight',
  qb: 'base_model.model.q_proj.lora_B.weight',
  va: 'base_model.model.v_proj.lora_A.weight',
  vb: 'base_model.model.v_proj.lora_B.weight',
};

/** The valid adapter: r=2 on q_proj and v_proj. */
function validConfig(): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    r: 2,
    lora_alpha: 4,
    target_modules: ['q_proj', 'v_proj'],
    lora_dropout: 0,
    bias: 'none',
    use_rslora: false,
    init_lora_weights: true,
    rank_pattern: {},
    alpha_pattern: {},
    use_dora: false,
  };
}

function validTensors(): TensorEntry[] {
  const values = (n: number, offset: number) => Float32Array.from({ length: n }, (_, i) => (i + offset) / 16);
  return [
    { name: KEYS.qa, dtype: 'F32', shape: [2, 4], data: values(8, 1) },
    { name: KEYS.qb, dtype: 'F32', shape: [4, 2], data: values(8, 2) },
    { name: KEYS.va, dtype: 'F32', shape: [2, 4], data: values(8, 3) },
    { name: KEYS.vb, dtype: 'F32', shape: [6, 2], data: values(12, 4) },
  ];
}

const FIELDS = [
  'r',
  'lora_alpha',
  'target_modules',
  'exclude_modules',
  'lora_dropout',
  'bias',
  'use_rslora',
  'init_lora_weights',
  'rank_pattern',
  'alpha_pattern',
  'use_dora',
  'fan_in_fan_out',
  'layers_to_transform',
  'layers_pattern',
  'modules_to_save',
  'layer_replication',
  'task_type',
  'lora_bias',
  'peft_type',
  'megatron_core',
  'qalora_group_size',
] as const;

const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    'false',
    'true',
    0,
    -1,
    1,
    2,
    4,
    8.5,
    1e9,
    1e300,
    '',
    'all-linear',
    '.*(q_proj',
    '.*q_proj',
    'q_proj',
    'none',
    'all',
    'lora_only',
    'gaussian',
    'pissa',
    [],
    ['q_proj'],
    ['v_proj'],
    ['k_proj'],
    [5],
    [null],
    [[0, 1]],
    [[0]],
    {},
    { q_proj: 4 },
    { q_proj: null },
    { q_proj: 'x' },
    { '.*': 1.5 },
    'CAUSAL_LM',
    'NOPE',
  ),
  fc.string({ maxLength: 12 }),
  fc.double(),
  fc.integer(),
  fc.jsonValue({ maxDepth: 2 }),
);

type TensorEdit =
  | { kind: 'drop'; index: number }
  | { kind: 'rename'; index: number; name: string }
  | { kind: 'shape'; index: number; shape: number[] }
  | { kind: 'dtype'; index: number; dtype: 'I32' | 'I8' | 'U8' | 'F16' | 'BF16' | 'F64' }
  | { kind: 'add'; name: string }
  | { kind: 'empty' };

const tensorEdit: fc.Arbitrary<TensorEdit> = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), index: fc.nat(3) }),
  fc.record({
    kind: fc.constant('rename' as const),
    index: fc.nat(3),
    name: fc.constantFrom(
      'base_model.model.k_proj.lora_A.weight',
      'base_model.model.q_proj.lora_A.default.weight',
      'q_proj.lora_A.weight',
      'base_model.model.q_proj.lora_magnitude_vector',
    ),
  }),
  fc.record({
    kind: fc.constant('shape' as const),
    index: fc.nat(3),
    shape: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 0, maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('dtype' as const),
    index: fc.nat(3),
    dtype: fc.constantFrom('I32', 'I8', 'U8', 'F16', 'BF16', 'F64'),
  }),
  fc.record({
    kind: fc.constant('add' as const),
    name: fc.constantFrom('base_model.model.k_proj.lora_A.weight', 'base_model.model.surprise'),
  }),
  fc.constant({ kind: 'empty' as const }),
);

export interface AdapterCase {
  readonly fields: [string, unknown][];
  readonly edits: TensorEdit[];
  readonly damage: { at: number; value: number } | null;
}

// Untouched fields or tensors in a third of the cases each, so that loads also succeed and their values
// are compared with the files.
export const adapterCase: fc.Arbitrary<AdapterCase> = fc.record({
  fields: fc.oneof(
    fc.constant([] as [string, unknown][]),
    fc.array(fc.tuple(fc.constantFrom(...FIELDS), oddValue), { minLength: 1, maxLength: 3 }),
    fc.array(fc.tuple(fc.constantFrom(...FIELDS), oddValue), { minLength: 1, maxLength: 3 }),
  ),
  edits: fc.oneof(
    fc.constant([] as TensorEdit[]),
    fc.array(tensorEdit, { minLength: 1, maxLength: 3 }),
    fc.array(tensorEdit, { minLength: 1, maxLength: 3 }),
  ),
  damage: fc.oneof(
    { weight: 7, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }) },
  ),
});

const fill = (dtype: string, n: number) =>
  dtype === 'I32'
    ? new Int32Array(n).fill(1)
    : dtype === 'I8'
      ? new Int8Array(n).fill(1)
      : dtype === 'U8'
        ? new Uint8Array(n).fill(1)
        : dtype === 'F64'
          ? new Float64Array(n).fill(0.5)
          : new Float32Array(n).fill(0.5);

function applyEdits(edits: readonly TensorEdit[]): TensorEntry[] {
  let tensors = validTensors();
  for (const edit of edits) {
    if (edit.kind === 'empty') tensors = [];
    else if (edit.kind === 'add') {
      if (!tensors.some((t) => t.name === edit.name))
        tensors.push({ name: edit.name, dtype: 'F32', shape: [2, 4], data: new Float32Array(8) });
    } else {
      const target = tensors[edit.index % Math.max(1, tensors.length)];
      if (!target) continue;
      const i = tensors.indexOf(target);
      if (edit.kind === 'drop') tensors.splice(i, 1);
      else if (edit.kind === 'rename') {
        if (!tensors.some((t) => t.name === edit.name)) tensors[i] = { ...target, name: edit.name };
      } else if (edit.kind === 'shape') {
        const n = edit.shape.reduce((a, b) => a * b, 1);
        tensors[i] = { ...target, shape: edit.shape, data: fill(target.dtype, n) };
      } else {
        const n = target.shape.reduce((a, b) => a * b, 1);
        tensors[i] = { ...target, dtype: edit.dtype, data: fill(edit.dtype, n) };
      }
    }
  }
  return tensors;
}

/** Writes the case's adapter into `dir` (created). Returns the tensors written (undefined if damaged). */
export async function writeCase(dir: string, c: AdapterCase): Promise<TensorEntry[] | undefined> {
  mkdirSync(dir, { recursive: true });
  const config = validConfig();
  for (const [key, value] of c.fields) config[key] = value;
  let text: string;
  try {
    text = dumpPythonJson(config);
  } catch {
    text = JSON.stringify(config);
  }
  writeFileSync(join(dir, 'adapter_config.json'), text);
  const tensors = applyEdits(c.edits);
  const bytes = await serializeSafetensors(tensors, { metadata: { format: 'pt' } });
  if (c.damage && bytes.length) bytes[c.damage.at % bytes.length] = c.damage.value;
  writeFileSync(join(dir, 'adapter_model.safetensors'), bytes);
  return c.damage ? undefined : tensors;
}

function snapshot(model: Module): string {
  return JSON.stringify([
    model.namedModules().map(([n, m]) => `${n}:${m.constructor.name}`),
    model.parameters().map((p) => p.requiresGrad),
  ]);
}

/** Runs one case in `dir`; throws an Error describing a violation of the property. */
export async function checkAdapterCase(dir: string, c: AdapterCase): Promise<'accepted' | 'rejected'> {
  rmSync(dir, { recursive: true, force: true });
  const written = await writeCase(dir, c);
  const model = new Pair();
  const before = snapshot(model);
  let peft: ReturnType<typeof loadAdapter>;
  try {
    peft = loadAdapter(model, dir);
  } catch (error) {
    if (!(error instanceof LorakitError)) {
      throw new Error(
        `not a LorakitError: ${(error as Error)?.name}: ${String((error as Error)?.message).slice(0, 300)}`,
      );
    }
    if (error.message.length > MAX_MESSAGE_LENGTH) {
      throw new Error(`message of ${error.message.length} characters: ${error.message.slice(0, 200)}…`);
    }
    if (snapshot(model) !== before)
      throw new Error(`the model changed after a failed load: ${error.message}`);
    return 'rejected';
  }
  const config = peft.peftConfig.get('default')!;
  const typed = loraConfigOptionsSchema.safeParse(config.toOptions());
  if (!typed.success) {
    throw new Error(`loaded with a wrongly typed config: ${typed.error.issues[0]?.path.join('.')}`);
  }
  if (written) {
    const byName = new Map(written.map((t) => [t.name, t]));
    for (const [name, parameter] of peft.namedParameters()) {
      const key = name.replace('.default.', '.');
      const entry = byName.get(key);
      if (!entry || typeof entry.data === 'function') continue;
      const expected = Array.from(entry.data as Float32Array, Number);
      const actual = Array.from(parameter.toArray() as Float32Array, Number);
      if (expected.length !== actual.length || expected.some((v, i) => Math.abs(v - actual[i]!) > 1e-2)) {
        throw new Error(`parameter ${name} differs from the file's ${key}`);
      }
    }
  }
  return 'accepted';
}
