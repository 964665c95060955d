import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dumpPythonJson, FIELD_KEYS, LoraConfig } from '@lorakit/lora';
import { escapeCell } from './markdown.js';
import { generated } from './paths.js';

type Field = keyof typeof FIELD_KEYS;

/**
 * What each field does. The table is generated from `FIELD_KEYS` (every key PEFT 0.21 writes) and the
 * defaults of `new LoraConfig()`: a field added to LoraConfig without a line here fails the build.
 */
const DESCRIPTIONS: Record<Field, string> = {
  r: 'LoRA rank: A is [r, in], B is [out, r].',
  loraAlpha: 'Scaling numerator: the update is (lora_alpha / r)·B·A (or lora_alpha / √r with rsLoRA).',
  targetModules:
    'Which modules get LoRA: a list (exact names or dotted suffixes), a regex string (full match), `all-linear` (every linear but the output head), or null for the architecture default.',
  excludeModules: 'Modules never to adapt: a list of names/suffixes or a regex string.',
  loraDropout: 'Dropout on the LoRA branch input during training.',
  fanInFanOut:
    'True for layers that store the weight as [in, out] (GPT-2 `Conv1D`); set automatically with a warning.',
  bias: '`none`, `all` or `lora_only`: which biases train (and are saved with the adapter).',
  useRslora: 'Rank-stabilized LoRA: scaling lora_alpha / √r (Kalajdzievski 2023).',
  modulesToSave: 'Modules trained in full and saved with the adapter (e.g. a classifier head).',
  initLoraWeights:
    '`true` (A kaiming-uniform, B = 0), `false` (random B too: not a no-op), `gaussian`, or a plugin init: `pissa`, `pissa_niter_N`, `olora`, `corda`, `orthogonal`, `eva`, `loftq`.',
  layersToTransform: 'Only these layer indices (an index or a list) get LoRA.',
  layersPattern:
    'The name of the layer list (`layers`, `h`) when layers_to_transform is used on an unusual model.',
  rankPattern: 'Per-module ranks: `{"regex or suffix": r}`; the first matching key wins (as in PEFT).',
  alphaPattern: 'Per-module lora_alpha, matched like rank_pattern.',
  loftqConfig:
    'LoftQ options (`loftq_bits`, `loftq_iter`) for `init_lora_weights: "loftq"` (@lorakit/loftq).',
  evaConfig: 'EVA options (`rho`, `tau`, …) for `init_lora_weights: "eva"` (@lorakit/eva).',
  cordaConfig:
    'CorDA options (`corda_method`: `ipm` or `kpm`, …) for `init_lora_weights: "corda"` (@lorakit/inits-svd).',
  useDora: 'DoRA: a learned magnitude per output row on top of the LoRA direction (Liu et al. 2024).',
  layerReplication:
    'Build a deeper model by repeating layer ranges `[[start, end], …]` before adapting (shared base weights).',
  loraBias: 'Train a bias on lora_B as well.',
  taskType:
    'PEFT task type (`CAUSAL_LM`, `SEQ_CLS`, …): decides the PeftModel class in Python; kept in the file.',
  baseModelNameOrPath: 'The base model the adapter belongs to (informative; lorakit never downloads it).',
  revision: 'Hub revision of the base model (informative).',
  inferenceMode: 'Written `true` by save; loading with `isTrainable: false` freezes the adapter.',
  megatronConfig:
    'Megatron-LM parallel layers: read and written, **not implemented** (setting it is an error).',
  megatronCore: 'Megatron core module name: read and written, unused.',
  trainableTokenIndices: 'Trainable token rows of embeddings: read and written, **not implemented**.',
  loraGaConfig: 'LoRA-GA init: read and written, **not implemented**.',
  veloraConfig: 'VeLoRA variant: read and written, **not implemented**.',
  aloraInvocationTokens: 'Activated LoRA: read and written, **not implemented**.',
  useQalora: 'QA-LoRA: read and written, **not implemented**.',
  qaloraGroupSize: 'QA-LoRA group size: read and written, unused.',
  montecloraConfig: 'MonteCLoRA variant: read and written, **not implemented**.',
  targetParameters: 'Targeting bare parameters instead of modules: read and written, **not implemented**.',
  useBdlora: 'BD-LoRA variant: read and written, **not implemented**.',
  arrowConfig: 'Arrow routing variant: read and written, **not implemented**.',
  kasaConfig: 'KaSA variant: read and written, **not implemented**.',
  ensureWeightTying: 'PEFT’s tied-adapter option: read and written, **not implemented**.',
  autoMapping: 'Custom-model class mapping for Python’s auto classes (kept as is).',
  peftVersion: 'The PEFT version the file follows (lorakit writes 0.21.0).',
  peftType: 'Always `LORA`.',
};

/** docs/parts/generated/lora-config-fields.md: the LoraConfig table (lorakit option, PEFT key, default, meaning). */
export function generateLoraConfigTable(): { fields: number } {
  const defaults = new LoraConfig().toPeftDict();
  const undocumented = Object.keys(FIELD_KEYS).filter((field) => !(field in DESCRIPTIONS));
  if (undocumented.length > 0) {
    throw new Error(
      `[docs] LoraConfig fields without a description in scripts/lora-config-table.ts: ${undocumented.join(', ')}`,
    );
  }
  // In DESCRIPTIONS' order: the fields people set first, the unimplemented ones last.
  const rows = (Object.keys(DESCRIPTIONS) as Field[]).map((field) => {
    const key = FIELD_KEYS[field];
    const description = DESCRIPTIONS[field];
    const value = dumpPythonJson(defaults[key], 0).replace(/\n/g, '');
    const option = field === 'peftType' ? '`peftType` (read-only)' : `\`${field}\``;
    return `| ${option}<br>\`${key}\` | \`${escapeCell(value)}\` | ${escapeCell(description)} |`;
  });
  const table = [
    '| lorakit option<br>PEFT key | default | what it does |',
    '| --- | --- | --- |',
    ...rows,
  ].join('\n');
  writeFileSync(join(generated.parts, 'lora-config-fields.md'), `${table}\n`);
  return { fields: rows.length };
}
