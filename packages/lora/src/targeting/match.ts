import type { LoraConfig } from '../config/lora-config.js';
import { pythonRegex } from './python-regex.js';

export type MatchResult = 'match' | 'miss' | 'excluded';

/** Whether `name` equals `entry` or ends with `.entry`. */
function matchesListEntry(name: string, entry: string): boolean {
  return name === entry || name.endsWith(`.${entry}`);
}

/**
 * PEFT's `check_target_module_exists`: exclude_modules, then modules_to_save (a module saved whole, and
 * everything under it, is never a LoRA target), then target_modules (regex: full match; list: exact name,
 * or dotted suffix subject to layers_to_transform).
 */
export function checkTargetModule(config: LoraConfig, name: string): MatchResult {
  const exclude = config.excludeModules;
  if (exclude) {
    if (
      typeof exclude === 'string'
        ? pythonRegex(exclude, 'full').test(name)
        : [...exclude].some((e) => matchesListEntry(name, e))
    ) {
      return 'excluded';
    }
  }
  if (config.modulesToSave?.length) {
    for (const m of config.modulesToSave) {
      if (pythonRegex(`(^|.*\\.)${m}($|\\..*)`, 'start').test(name)) return 'excluded';
    }
  }
  const targets = config.targetModules;
  if (targets === null) return 'miss';
  if (typeof targets === 'string') return pythonRegex(targets, 'full').test(name) ? 'match' : 'miss';
  if (targets.has(name)) return 'match';
  if (![...targets].some((t) => name.endsWith(`.${t}`))) return 'miss';
  return layerFilterAccepts(config, name) ? 'match' : 'miss';
}

/** `layers_to_transform` (+ `layers_pattern`) on the suffix-match path; PEFT 0.21's regexes. */
export function layerFilterAccepts(config: LoraConfig, name: string): boolean {
  const layers = config.layersToTransform;
  const inUse = layers !== null && !(Array.isArray(layers) && layers.length === 0);
  if (!inUse) return true;
  const patterns = config.layersPattern;
  let index: number | undefined;
  const patternList = patterns === null ? [] : typeof patterns === 'string' ? [patterns] : patterns;
  if (patternList.length === 0 || (typeof patterns === 'string' && patterns === '')) {
    const m = pythonRegex('.*?\\.[^.]*\\.(\\d+)\\.', 'start').exec(name);
    if (m) index = Number(m[1]);
  } else {
    for (const p of patternList) {
      const m = pythonRegex(`(?:^|.*?\\.)${p}\\.(\\d+)\\.`, 'start').exec(name);
      if (m) {
        index = Number(m[1]);
        break;
      }
    }
  }
  if (index === undefined) return false;
  return typeof layers === 'number' ? index === layers : (layers as number[]).includes(index);
}

/** rank_pattern / alpha_pattern: the first key (in insertion order) whose regex matches as a dotted suffix. */
export function resolvePattern(
  pattern: Readonly<Record<string, number>>,
  name: string,
  fallback: number,
): number {
  for (const [key, value] of Object.entries(pattern)) {
    if (pythonRegex(`(.*\\.)?(${key})$`, 'start').test(name)) return value;
  }
  return fallback;
}

/** The pattern keys that match none of `names` (PEFT 0.21 warns about them). */
export function unusedPatternKeys(
  pattern: Readonly<Record<string, number>>,
  names: readonly string[],
): string[] {
  return Object.keys(pattern)
    .filter((key) => !names.some((n) => pythonRegex(`(.*\\.)?(${key})$`, 'start').test(n)))
    .sort();
}

/**
 * PEFT's target-list minimization (applied to lists of ≥ 20 names): the shortest set of dotted suffixes
 * that selects exactly the targets and none of the other modules.
 */
export function minimizeTargetModules(targets: readonly string[], allNames: readonly string[]): string[] {
  const targetSet = new Set(targets);
  const others = allNames.filter(
    (n) => !targetSet.has(n) && ![...targetSet].some((t) => n.endsWith(`.${t}`)),
  );
  const suffixes = (s: string): string[] => {
    const parts = s.split('.');
    return parts.map((_, i) => parts.slice(parts.length - 1 - i).join('.'));
  };
  const otherSuffixes = new Set(others.flatMap(suffixes));
  const required = new Set<string>();
  const items = [...targets].map((t) => ({ t, s: suffixes(t) }));
  items.sort((a, b) => compareLists(a.s, b.s));
  for (const { t, s } of items) {
    for (const suffix of s) {
      if (required.has(suffix) || otherSuffixes.has(suffix)) continue;
      if (![...required].some((req) => t.endsWith(`.${req}`))) required.add(suffix);
      break;
    }
  }
  if (required.size === 0 || required.size >= targets.length) return [...targets];
  return [...required];
}

function compareLists(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return a.length - b.length;
}

/** PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING (0.21). A string value is a regex. */
export const DEFAULT_TARGET_MODULES: Readonly<Record<string, readonly string[] | string>> = {
  t5: ['q', 'v'],
  mt5: ['q', 'v'],
  bart: ['q_proj', 'v_proj'],
  gpt2: ['c_attn'],
  bloom: ['query_key_value'],
  'blip-2': ['q', 'v', 'q_proj', 'v_proj'],
  opt: ['q_proj', 'v_proj'],
  gptj: ['q_proj', 'v_proj'],
  gpt_neox: ['query_key_value'],
  gpt_neo: ['q_proj', 'v_proj'],
  bert: ['query', 'value'],
  roberta: ['query', 'value'],
  'xlm-roberta': ['query', 'value'],
  electra: ['query', 'value'],
  'deberta-v2': ['query_proj', 'value_proj'],
  deberta: ['in_proj'],
  layoutlm: ['query', 'value'],
  llama: ['q_proj', 'v_proj'],
  llama4: ['q_proj', 'v_proj'],
  chatglm: ['query_key_value'],
  gpt_bigcode: ['c_attn'],
  mpt: ['Wqkv'],
  RefinedWebModel: ['query_key_value'],
  RefinedWeb: ['query_key_value'],
  falcon: ['query_key_value'],
  btlm: ['c_proj', 'c_attn'],
  codegen: ['qkv_proj'],
  mistral: ['q_proj', 'v_proj'],
  mixtral: ['q_proj', 'v_proj'],
  stablelm: ['q_proj', 'v_proj'],
  phi: ['q_proj', 'v_proj', 'fc1', 'fc2'],
  gemma: ['q_proj', 'v_proj'],
  gemma2: ['q_proj', 'v_proj'],
  gemma3_text: ['q_proj', 'v_proj'],
  gemma4: '.*language_model\\..*\\.(q_proj|v_proj)',
  qwen2: ['q_proj', 'v_proj'],
  qwen3: ['q_proj', 'v_proj'],
  nemotron_h: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
  rwkv: ['key', 'value', 'receptance', 'output'],
  rwkv7: ['r_proj', 'k_proj', 'v_proj', 'o_proj', 'key', 'value'],
};
