import { z } from 'zod';
import { LoraConfigError } from '../errors.js';
import type { LoraConfigOptions, TaskType } from './lora-config.js';

/**
 * The largest rank lorakit accepts. PEFT has no bound, but a factor of r × in_features must fit one
 * typed array; a rank above any real layer's width is a typo (or `1e9`), and refusing it here gives a
 * message instead of `RangeError: Invalid typed array length` deep inside injection.
 */
export const MAX_RANK = 65_536;

const integer = z.int();
const rank = z.int().max(MAX_RANK);
const strings = z.array(z.string()).readonly();
const integers = z.array(integer).readonly();
const subConfig = z.record(z.string(), z.unknown());
const anyString = <T extends string>() => z.custom<T>((v) => typeof v === 'string');

/**
 * The type of every LoraConfig field, by PEFT 0.21's dataclass annotations (`Optional[...]` is
 * nullable; a field without a default of `None` is not). Value rules that PEFT checks with its own
 * messages (task type names, lora_dropout's range, r > 0 at injection, bias names) stay where PEFT
 * makes them.
 */
export const FIELD_SCHEMAS = {
  r: rank,
  targetModules: z.union([strings, z.string()]).nullable(),
  excludeModules: z.union([strings, z.string()]).nullable(),
  loraAlpha: z.number(),
  loraDropout: z.number(),
  fanInFanOut: z.boolean(),
  bias: anyString<string>(),
  useRslora: z.boolean(),
  modulesToSave: strings.nullable(),
  initLoraWeights: z.union([z.boolean(), z.string()]),
  layersToTransform: z.union([integers, integer]).nullable(),
  layersPattern: z.union([strings, z.string()]).nullable(),
  rankPattern: z.record(z.string(), rank),
  alphaPattern: z.record(z.string(), z.number()),
  loftqConfig: subConfig,
  evaConfig: subConfig.nullable(),
  cordaConfig: subConfig.nullable(),
  useDora: z.boolean(),
  layerReplication: z
    .array(z.tuple([integer, integer]).readonly())
    .readonly()
    .nullable(),
  loraBias: z.boolean(),
  taskType: anyString<TaskType>().nullable(),
  baseModelNameOrPath: z.string().nullable(),
  revision: z.string().nullable(),
  inferenceMode: z.boolean(),
  megatronConfig: subConfig.nullable(),
  megatronCore: z.string().nullable(),
  trainableTokenIndices: z.union([integers, z.record(z.string(), integers)]).nullable(),
  loraGaConfig: subConfig.nullable(),
  veloraConfig: subConfig.nullable(),
  aloraInvocationTokens: integers.nullable(),
  useQalora: z.boolean(),
  qaloraGroupSize: integer,
  montecloraConfig: subConfig.nullable(),
  targetParameters: strings.nullable(),
  useBdlora: subConfig.nullable(),
  arrowConfig: subConfig.nullable(),
  kasaConfig: subConfig.nullable(),
  ensureWeightTying: z.boolean(),
  autoMapping: subConfig.nullable(),
  peftVersion: z.string(),
} as const;

/** Every field optional: `undefined` means PEFT's default. */
export const loraConfigOptionsSchema = z.object(FIELD_SCHEMAS).partial();

/** The options type as the schema defines it; `LoraConfigOptions` must stay assignable to it. */
export type SchemaOptions = z.input<typeof loraConfigOptionsSchema>;
// Compile-time: the declared options type and the schema agree in both directions.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesOptions: Same<Required<SchemaOptions>, Required<LoraConfigOptions>> = true;
void schemaMatchesOptions;

/** What each field must be, for messages (PEFT's annotation in words). */
const EXPECTED: Readonly<Record<keyof typeof FIELD_SCHEMAS, string>> = {
  r: `an integer no greater than ${MAX_RANK}`,
  targetModules: 'a list of module names, a regex string, or null',
  excludeModules: 'a list of module names, a regex string, or null',
  loraAlpha: 'a finite number',
  loraDropout: 'a number in [0, 1]',
  fanInFanOut: 'true or false',
  bias: 'a string ("none", "all" or "lora_only")',
  useRslora: 'true or false',
  modulesToSave: 'a list of module names or null',
  initLoraWeights: 'true, false or the name of an init method',
  layersToTransform: 'an integer, a list of integers, or null',
  layersPattern: 'a string, a list of strings, or null',
  rankPattern: `an object of module pattern → integer rank (no greater than ${MAX_RANK})`,
  alphaPattern: 'an object of module pattern → finite number',
  loftqConfig: 'an object',
  evaConfig: 'an object or null',
  cordaConfig: 'an object or null',
  useDora: 'true or false',
  layerReplication: 'a list of [start, end] integer pairs, or null',
  loraBias: 'true or false',
  taskType: 'a task type name or null',
  baseModelNameOrPath: 'a string or null',
  revision: 'a string or null',
  inferenceMode: 'true or false',
  megatronConfig: 'an object or null',
  megatronCore: 'a string or null',
  trainableTokenIndices: 'a list of integers, an object of module name → list of integers, or null',
  loraGaConfig: 'an object or null',
  veloraConfig: 'an object or null',
  aloraInvocationTokens: 'a list of integers or null',
  useQalora: 'true or false',
  qaloraGroupSize: 'an integer',
  montecloraConfig: 'an object or null',
  targetParameters: 'a list of strings or null',
  useBdlora: 'an object or null',
  arrowConfig: 'an object or null',
  kasaConfig: 'an object or null',
  ensureWeightTying: 'true or false',
  autoMapping: 'an object or null',
  peftVersion: 'a string',
};

/** A received value for a message: JSON-like and short (hostile configs can hold huge values). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 80 ? `${text.slice(0, 80)}… (${text.length} characters)` : text;
}

function pathText(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `[${JSON.stringify(String(p))}]`)).join('');
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const p of path) v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/**
 * Checks the type of every given field (undefined fields take PEFT's defaults). The error names the
 * adapter_config.json key, and the entry inside it for lists and patterns:
 * `[LoraConfig] alpha_pattern["q_proj"] is null; alpha_pattern must be an object of module pattern → finite number`.
 */
export function checkOptionTypes(options: unknown, fieldKeys: Readonly<Record<string, string>>): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new LoraConfigError(
      `[LoraConfig] the configuration must be an object of fields, received ${describeValue(options)}`,
    );
  }
  for (const [field, schema] of Object.entries(FIELD_SCHEMAS) as [keyof typeof FIELD_SCHEMAS, z.ZodType][]) {
    const value = (options as Record<string, unknown>)[field];
    if (value === undefined) continue;
    const result = schema.safeParse(value);
    if (result.success) continue;
    const key = fieldKeys[field] ?? field;
    // The deepest issue names the offending entry (a union reports its branches' issues separately).
    const path = deepestPath(result.error.issues);
    if (path.length === 0) {
      throw new LoraConfigError(
        `[LoraConfig] ${key} must be ${EXPECTED[field]}, received ${describeValue(value)}`,
      );
    }
    throw new LoraConfigError(
      `[LoraConfig] ${key}${pathText(path)} is ${describeValue(valueAt(value, path))}; ${key} must be ${EXPECTED[field]}`,
    );
  }
}

function deepestPath(issues: readonly z.core.$ZodIssue[]): PropertyKey[] {
  let best: PropertyKey[] = [];
  const visit = (list: readonly z.core.$ZodIssue[], prefix: PropertyKey[]): void => {
    for (const issue of list) {
      const path = [...prefix, ...issue.path];
      if (path.length > best.length) best = path;
      if (issue.code === 'invalid_union') for (const branch of issue.errors) visit(branch, path);
    }
  };
  visit(issues, []);
  return best;
}

export type { LoraConfigOptions };
