import { readFileSync } from 'node:fs';
import { LoraConfig, parsePythonJson } from '@lorakit/lora';
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { integerOption, listOption, numberOption } from '../options.js';
import { requireFile } from '../paths.js';

/** LoRA flags shared by `train` and `init`; they override the fields of `--config`. */
export interface LoraFlags {
  readonly config?: string;
  readonly r?: number;
  readonly alpha?: number;
  readonly dropout?: number;
  readonly targetModules?: string[];
  readonly modulesToSave?: string[];
  readonly useRslora?: boolean;
  readonly useDora?: boolean;
  readonly bias?: string;
}

export function addLoraOptions(command: Command): Command {
  return command
    .option(
      '--config <file>',
      'LoRA config as adapter_config.json (PEFT keys: r, lora_alpha, target_modules, …)',
    )
    .option('--r <rank>', 'rank r (default 8)', integerOption(1))
    .option(
      '--alpha <alpha>',
      'lora_alpha (default 8; scaling = alpha / r)',
      numberOption({ min: 0, exclusiveMin: true }),
    )
    .option('--dropout <p>', 'lora_dropout (default 0)', numberOption({ min: 0, max: 1 }))
    .option(
      '--target-modules <names>',
      'comma-separated module names or suffixes (q_proj,v_proj), or all-linear (default: the architecture default)',
      listOption,
    )
    .option(
      '--modules-to-save <names>',
      'comma-separated modules trained in full and saved with the adapter',
      listOption,
    )
    .option('--use-rslora', 'rank-stabilized scaling alpha / sqrt(r)')
    .option('--use-dora', 'DoRA (weight-decomposed LoRA)')
    .option('--bias <kind>', 'none, all or lora_only (default none)');
}

/**
 * The LoRA config from `--config` (PEFT's adapter_config.json format) with the flags applied on top.
 * Config problems (unknown values, unsupported features) come back as LoraConfig's own messages.
 */
export function loraConfigFrom(flags: LoraFlags, defaults: { taskType?: 'CAUSAL_LM' } = {}): LoraConfig {
  let base: LoraConfig;
  if (flags.config) {
    requireFile(flags.config, '--config');
    let dict: unknown;
    try {
      dict = parsePythonJson(readFileSync(flags.config, 'utf8'));
    } catch (cause) {
      throw new CliError(`--config ${flags.config} is not valid JSON (${(cause as Error).message})`, {
        cause,
      });
    }
    if (!dict || typeof dict !== 'object' || Array.isArray(dict)) {
      throw new CliError(`--config ${flags.config} must hold a JSON object with LoraConfig fields`);
    }
    base = LoraConfig.fromPeftDict(dict as Record<string, unknown>);
    for (const warning of base.warnings) {
      if (warning.startsWith('Unexpected keyword arguments'))
        throw new CliError(`--config ${flags.config}: ${warning}`);
    }
  } else {
    base = new LoraConfig({ taskType: defaults.taskType ?? null });
  }
  const options = base.toOptions();
  const targetModules = flags.targetModules
    ? flags.targetModules.length === 1 && flags.targetModules[0] === 'all-linear'
      ? 'all-linear'
      : flags.targetModules
    : options.targetModules;
  return new LoraConfig({
    ...options,
    r: flags.r ?? options.r,
    loraAlpha: flags.alpha ?? options.loraAlpha,
    loraDropout: flags.dropout ?? options.loraDropout,
    targetModules,
    modulesToSave: flags.modulesToSave ?? options.modulesToSave,
    useRslora: flags.useRslora ?? options.useRslora,
    useDora: flags.useDora ?? options.useDora,
    bias: flags.bias ?? options.bias,
    // A saved adapter_config.json says inference_mode: true; the config of an adapter to train never does.
    inferenceMode: false,
  });
}
