import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  type LoraConfig,
  PyFloat,
  parsePythonJson,
  pythonRegex,
  readAdapterConfig,
  resolvePattern,
} from '@lorakit/lora';
import { SafetensorsFile, shapeSize } from '@lorakit/safetensors';
import { CliError } from '../errors.js';
import { sizeOnDisk } from '../paths.js';
import { adapterKeyRole } from './adapter-keys.js';
import { compatibilityWarnings } from './compatibility.js';

export interface AdapterModuleSummary {
  readonly name: string;
  readonly kind: 'linear' | 'conv' | 'embedding';
  readonly rank: number;
  readonly alpha: number;
  readonly scaling: number;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly dora: boolean;
  readonly parameters: number;
}

export interface AdapterSummary {
  readonly kind: 'adapter';
  readonly path: string;
  /** The adapter_config.json fields that matter for using the adapter (PEFT's keys). */
  readonly config: Record<string, unknown>;
  readonly modules: AdapterModuleSummary[];
  /** rank → number of modules with it. */
  readonly ranks: Record<string, number>;
  /** Full tensors saved besides the LoRA factors: modules_to_save copies, embeddings, biases. */
  readonly fullTensors: { name: string; shape: number[]; role: string }[];
  readonly tensors: number;
  readonly parameters: number;
  readonly dtypes: Record<string, number>;
  readonly bytesOnDisk: number;
  readonly warnings: string[];
}

const CONFIG_FIELDS = [
  'peft_type',
  'task_type',
  'base_model_name_or_path',
  'r',
  'lora_alpha',
  'use_rslora',
  'use_dora',
  'lora_dropout',
  'bias',
  'lora_bias',
  'init_lora_weights',
  'target_modules',
  'exclude_modules',
  'modules_to_save',
  'rank_pattern',
  'alpha_pattern',
  'layers_to_transform',
  'layer_replication',
  'peft_version',
];

/** JSON values with Python floats (kept apart by parsePythonJson so they round-trip) as plain numbers. */
function plain(value: unknown): unknown {
  if (value instanceof PyFloat) return value.value;
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** Summarizes a PEFT adapter folder (adapter_config.json + adapter_model.safetensors). */
export function summarizeAdapter(dir: string): AdapterSummary {
  const configPath = join(dir, 'adapter_config.json');
  let raw: Record<string, unknown>;
  try {
    raw = parsePythonJson(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new CliError(`${configPath} is not valid JSON (${(cause as Error).message})`, { cause });
  }
  // The config checks loading makes (a JSON object, every field's type, PEFT's rules), with its messages.
  const config = readAdapterConfig(dir);
  const weightsPath = join(dir, 'adapter_model.safetensors');
  if (!existsSync(weightsPath)) {
    const hint = existsSync(join(dir, 'adapter_model.bin'))
      ? ' (only adapter_model.bin, which lorakit does not read)'
      : '';
    throw new CliError(`adapter directory ${dir} has no adapter_model.safetensors${hint}`);
  }
  const file = SafetensorsFile.open(weightsPath);
  try {
    const factors = new Map<string, Map<string, number[]>>();
    const fullTensors: AdapterSummary['fullTensors'] = [];
    const dtypes: Record<string, number> = {};
    let parameters = 0;
    for (const info of file.tensors) {
      dtypes[info.dtype] = (dtypes[info.dtype] ?? 0) + 1;
      parameters += shapeSize(info.shape);
      const role = adapterKeyRole(info.name);
      if (role.kind === 'modules_to_save' || role.kind === 'full' || role.kind === 'trainable_tokens') {
        const label = {
          full: 'base tensor',
          modules_to_save: 'modules_to_save',
          trainable_tokens: 'trainable tokens',
        };
        fullTensors.push({ name: info.name, shape: [...info.shape], role: label[role.kind] });
        continue;
      }
      if (!factors.has(role.module)) factors.set(role.module, new Map());
      factors.get(role.module)!.set(role.kind, [...info.shape]);
    }
    const warnings: string[] = [...config.warnings, ...loadProblems(config, file)];
    const modules: AdapterModuleSummary[] = [];
    for (const [name, parts] of factors) {
      const embedding = parts.has('embedding_A');
      const a = parts.get(embedding ? 'embedding_A' : 'lora_A');
      const b = parts.get(embedding ? 'embedding_B' : 'lora_B');
      if (!a || !b) {
        warnings.push(
          `module ${name} has ${[...parts.keys()].join(', ')} but not both LoRA factors (a truncated or hand-edited file?)`,
        );
        continue;
      }
      const rank = a[0]!;
      const kind = embedding ? 'embedding' : a.length > 2 ? 'conv' : 'linear';
      const inFeatures = embedding ? a[1]! : a.slice(1).reduce((x, y) => x * y, 1);
      const outFeatures = b[0]!;
      const expectedRank = resolvePattern(config.rankPattern, name, config.r);
      if (expectedRank !== rank) {
        warnings.push(
          `module ${name} has rank ${rank} in the weights but ${expectedRank} in the config (r / rank_pattern): PEFT will refuse to load it`,
        );
      }
      const alpha = resolvePattern(config.alphaPattern, name, config.loraAlpha);
      let count = 0;
      for (const shape of parts.values()) count += shapeSize(shape);
      modules.push({
        name,
        kind,
        rank,
        alpha,
        scaling: config.scalingFor(rank, alpha),
        inFeatures,
        outFeatures,
        dora: parts.has('magnitude'),
        parameters: count,
      });
    }
    const ranks: Record<string, number> = {};
    for (const m of modules) ranks[m.rank] = (ranks[m.rank] ?? 0) + 1;
    const shown: Record<string, unknown> = {};
    for (const key of CONFIG_FIELDS) if (key in raw) shown[key] = plain(raw[key]);
    warnings.push(...compatibilityWarnings(config, modules, fullTensors));
    return {
      kind: 'adapter',
      path: dir,
      config: shown,
      modules,
      ranks,
      fullTensors,
      tensors: file.tensors.length,
      parameters,
      dtypes,
      bytesOnDisk: sizeOnDisk(weightsPath) + sizeOnDisk(configPath),
      warnings,
    };
  } finally {
    file.close();
  }
}

const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16', 'F8_E4M3', 'F8_E5M2']);

/**
 * What makes loading fail that can be seen without the base model (so `inspect --strict` fails whenever
 * loading would): target/exclude regexes that do not compile, an empty weights file, non-float tensors.
 * Factor pairs and ranks are checked per module below.
 */
function loadProblems(config: LoraConfig, file: SafetensorsFile): string[] {
  const problems: string[] = [];
  for (const [key, value] of [
    ['target_modules', config.targetModules],
    ['exclude_modules', config.excludeModules],
  ] as const) {
    if (typeof value !== 'string' || value === 'all-linear') continue;
    try {
      pythonRegex(value, 'full');
    } catch (error) {
      problems.push(`${key}: ${(error as Error).message.replace(/^\[[^\]]+\]\s*/, '')}; loading fails`);
    }
  }
  if (file.tensors.length === 0) problems.push('adapter_model.safetensors has no tensors: loading fails');
  const integer = file.tensors.filter((t) => !FLOAT_DTYPES.has(t.dtype)).map((t) => `${t.name} (${t.dtype})`);
  if (integer.length) {
    problems.push(`tensors that are not floating point: ${integer.join(', ')}: loading fails`);
  }
  return problems;
}

/**
 * Named adapters saved in subfolders (PEFT saves every adapter but "default" as `dir/<name>`); a
 * subfolder may be a symbolic link to an adapter folder (followed, as every other command does).
 */
export function namedAdapterFolders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter(
      (e) =>
        (e.isDirectory() ||
          (e.isSymbolicLink() && statSync(join(dir, e.name), { throwIfNoEntry: false })?.isDirectory())) &&
        existsSync(join(dir, e.name, 'adapter_config.json')),
    )
    .map((e) => e.name)
    .sort();
}
