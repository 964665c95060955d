import { join, resolve } from 'node:path';
import {
  findInitStrategy,
  getPeftModel,
  type InitCalibration,
  type InitMethod,
  type InitMethodRun,
  type LoraConfig,
  type PeftModel,
  registeredInitMethods,
  saveAdapter,
} from '@lorakit/lora';
import { type PreTrainedModel, saveModel } from '@lorakit/models';
import { manualSeed, tensor } from '@lorakit/tensor';
import type { Command } from 'commander';
import { chooseBackend } from '../backend.js';
import { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { addMethodOptions, type MethodOptionMap, methodValues } from '../init/method-options.js';
import { loadBaseModel, loadModelTokenizer } from '../loading.js';
import { copyTokenizerFiles } from '../merging/checkpoint-writer.js';
import { integerOption } from '../options.js';
import { requireFile } from '../paths.js';
import { batchesOf } from '../training/batches.js';
import { readExamples, tokenizeExamples } from '../training/dataset.js';
import { addLoraOptions, type LoraFlags, loraConfigFrom } from '../training/lora-options.js';

interface InitFlags extends LoraFlags {
  method: string;
  model: string;
  out: string;
  data?: string;
  samples: number;
  batchSize: number;
  maxLength: number;
  seed: number;
  residual: boolean;
}

/** Calibration data for methods that ask for it, tokenized like training data. */
async function calibrationFor(method: InitMethod, flags: InitFlags): Promise<InitCalibration> {
  const tokenizer = await loadModelTokenizer(
    flags.model,
    `${method.name} tokenizes the calibration data with it`,
  );
  const examples = tokenizeExamples(readExamples(flags.data!).slice(0, flags.samples), tokenizer, {
    maxLength: flags.maxLength,
  });
  const padId = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
  return {
    sequences: examples.map((e) => ({ inputIds: tensor([e.inputIds], { dtype: 'int64' }) })),
    batches: batchesOf(examples, flags.batchSize, padId).map((b) => ({
      inputIds: b.inputIds,
      attentionMask: b.attentionMask,
      labels: b.labels,
    })),
  };
}

/** Runs the method's steps around injection and returns the PeftModel. */
async function initialize(
  method: InitMethod,
  model: PreTrainedModel,
  config: LoraConfig,
  run: InitMethodRun,
): Promise<PeftModel> {
  await method.beforeInjection?.(model, config, run);
  const peft = getPeftModel(model, config);
  await method.afterInjection?.(peft, run);
  return peft;
}

function helpText(methods: readonly InitMethod[]): string {
  const width = Math.max(0, ...methods.map((m) => m.name.length));
  const lines = methods.map(
    (m) => `  ${m.name.padEnd(width)}  ${m.summary}${m.calibration ? ' (calibration: --data)' : ''}`,
  );
  return (
    'Initializes a LoRA adapter with one of the registered init methods and writes it to --out in PEFT ' +
    'format. Methods whose init rewrites the base weight (as their registered strategy says) move part of ' +
    'each base weight into the adapter: the changed base is written to --out/residual-base, and the adapter ' +
    'is saved as an adapter OF that residual base (init_lora_weights: true, base_model_name_or_path: the ' +
    "residual base), as PEFT's documentation does, so loading it never initializes again. Train, generate " +
    'and merge with --model --out/residual-base; after training, `lorakit convert --initial --out` turns ' +
    'the trained adapter into a plain LoRA adapter for the ORIGINAL base. With --no-residual the config ' +
    'keeps the method, and loading it onto the original base re-runs the init (as PEFT does).\n\n' +
    `Methods (from the installed plugin packages):\n${lines.join('\n')}`
  );
}

function examples(methods: readonly InitMethod[]): string {
  const plain = methods.find((m) => !m.calibration);
  const calibrated = methods.find((m) => m.calibration);
  const lines = [
    plain &&
      `  lorakit init --method ${plain.name} --model ./llama --r 16 --target-modules q_proj,v_proj --out ./${plain.name}-init`,
    calibrated &&
      `  lorakit init --method ${calibrated.name} --model ./llama --data calib.jsonl --target-modules all-linear --out ./${calibrated.name}-init`,
  ].filter(Boolean);
  return lines.length ? `\nExamples:\n${lines.join('\n')}` : '';
}

/**
 * `lorakit init`: every init method registered with @lorakit/lora (by the plugin packages, which must be
 * imported before the program is built) is offered with its own inputs; nothing here names a method.
 */
export function registerInit(program: Command): void {
  const methods = registeredInitMethods();
  const names = methods.map((m) => m.name);
  const command = program
    .command('init')
    .summary(`initialize an adapter with a registered init method (${names.join(', ')})`)
    .description(helpText(methods))
    .requiredOption('--method <name>', `one of ${names.join(', ')}`)
    .requiredOption('--model <dir>', 'base model folder')
    .requiredOption('--out <dir>', 'output folder for the adapter (and residual-base/)');
  addLoraOptions(command)
    .option('--data <file>', 'calibration data for methods that need it (.txt or .jsonl, like train)')
    .option('--samples <n>', 'calibration examples to use', integerOption(1), 256)
    .option('--batch-size <n>', 'calibration batch size (methods that take batches)', integerOption(1), 16)
    .option('--max-length <n>', 'cut calibration examples to this many tokens', integerOption(2), 512)
    .option('--seed <n>', 'seed of any random step (randomized SVD)', integerOption(0), 42)
    .option('--no-residual', 'do not write residual-base/');
  const inputs: MethodOptionMap = addMethodOptions(command, methods);
  command.addHelpText('after', examples(methods)).action(async (flags: InitFlags, cmd: Command) => {
    const context = CommandContext.of(cmd);
    const method = methods.find((m) => m.name === flags.method);
    if (!method) {
      throw new CliError(
        `--method must be one of ${names.join(', ')}, received ${JSON.stringify(flags.method)}`,
      );
    }
    if (method.calibration) {
      if (!flags.data) {
        throw new CliError(
          `--method ${method.name} needs --data (calibration text or JSONL, like train's --data)`,
        );
      }
      requireFile(flags.data, '--data');
    }
    const backend = await chooseBackend(cmd.optsWithGlobals().backend);
    context.debug(`backend: ${backend.name} — ${backend.reason}`);
    const config = loraConfigFrom(flags, { taskType: 'CAUSAL_LM' });
    const values = methodValues(method, inputs, flags as unknown as Record<string, unknown>);
    method.configure(config, values);
    const model = await loadBaseModel(flags.model);
    manualSeed(flags.seed);
    const started = performance.now();
    const run: InitMethodRun = {
      values,
      ...(method.calibration ? { calibration: await calibrationFor(method, flags) } : {}),
      log: (line) => context.print(line),
      progress: (label) => context.progress({ label, total: undefined }),
    };
    const peft = await initialize(method, model, config, run);
    for (const warning of peft.warnings) context.debug(`warning: ${warning}`);
    const rewritesBase = Boolean(findInitStrategy(config.initLoraWeights)?.modifiesBaseWeight);
    const residualDir = rewritesBase && flags.residual ? resolve(flags.out, 'residual-base') : null;
    if (residualDir) {
      // PEFT's recipe: the adapter is saved as plain LoRA of the residual base, so loading it (generate,
      // train --adapter, merge, convert) does not run the init again — a re-run would subtract the
      // factors a second time, and randomized (pissa_niter_N) or data-driven (CorDA) inits cannot repeat.
      const saved = peft.peftConfig.get('default')!;
      saved.initLoraWeights = true;
      saved.baseModelNameOrPath = residualDir;
    }
    await saveAdapter(peft, flags.out);
    const seconds = (performance.now() - started) / 1000;
    const modules = peft.loraLayers().length;
    context.print(
      `${method.name}: initialized ${modules} LoRA modules in ${seconds.toFixed(1)} s — ${peft.trainableParametersSummary()}`,
    );
    context.print(`adapter: ${flags.out}`);
    let residual: string | null = null;
    if (residualDir) {
      residual = join(flags.out, 'residual-base');
      const base = peft.unload() as PreTrainedModel;
      await saveModel(base, residual);
      copyTokenizerFiles(flags.model, residual);
      context.print(`residual base model: ${residual} (the base weights minus what the adapter now holds)`);
      context.print(
        `use it as the model of this adapter: lorakit train --model ${residual} --adapter ${flags.out} …`,
      );
    }
    context.result({
      method: method.name,
      adapter: flags.out,
      residualBase: residual,
      modules,
      initLoraWeights: config.initLoraWeights,
      seconds,
      backend: backend.name,
    });
  });
}
