import { join } from 'node:path';
import { getPeftModel, type LoraConfig, type PeftModel, saveAdapter } from '@lorakit/lora';
import { type PreTrainedModel, saveModel, type Tokenizer } from '@lorakit/models';
import { manualSeed, tensor } from '@lorakit/tensor';
import type { Command } from 'commander';
import { chooseBackend } from '../backend.js';
import { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { loadBaseModel, loadModelTokenizer } from '../loading.js';
import { copyTokenizerFiles } from '../merging/checkpoint-writer.js';
import { integerOption } from '../options.js';
import { requireFile } from '../paths.js';
import { batchesOf } from '../training/batches.js';
import { type Example, readExamples, tokenizeExamples } from '../training/dataset.js';
import { addLoraOptions, type LoraFlags, loraConfigFrom } from '../training/lora-options.js';

export const INIT_METHODS = ['pissa', 'olora', 'corda', 'eva', 'loftq'] as const;
type InitMethod = (typeof INIT_METHODS)[number];

/** Methods whose init replaces the base weights with a residual (written to residual-base/). */
const MUTATES_BASE: ReadonlySet<InitMethod> = new Set(['pissa', 'olora', 'corda', 'loftq']);

interface InitFlags extends LoraFlags {
  method: string;
  model: string;
  out: string;
  data?: string;
  niter?: number;
  cordaMethod: string;
  loftqBits: number;
  loftqIter: number;
  samples: number;
  batchSize: number;
  maxLength: number;
  seed: number;
  residual: boolean;
}

/** Calibration examples for CorDA and EVA, tokenized like training data. */
function calibration(flags: InitFlags, tokenizer: Tokenizer): Example[] {
  if (!flags.data)
    throw new CliError(
      `--method ${flags.method} needs --data (calibration text or JSONL, like train's --data)`,
    );
  requireFile(flags.data, '--data');
  return tokenizeExamples(readExamples(flags.data).slice(0, flags.samples), tokenizer, {
    maxLength: flags.maxLength,
  });
}

/** The LoRA config with the method's init_lora_weights and sub-config. */
async function configFor(method: InitMethod, flags: InitFlags): Promise<LoraConfig> {
  const config = loraConfigFrom(flags, { taskType: 'CAUSAL_LM' });
  switch (method) {
    case 'pissa':
      await import('@lorakit/inits-svd');
      config.initLoraWeights = flags.niter === undefined ? 'pissa' : `pissa_niter_${flags.niter}`;
      break;
    case 'olora':
      await import('@lorakit/inits-svd');
      config.initLoraWeights = 'olora';
      break;
    case 'corda': {
      const { cordaConfig } = await import('@lorakit/inits-svd');
      if (flags.cordaMethod !== 'ipm' && flags.cordaMethod !== 'kpm') {
        throw new CliError(
          `--corda-method must be ipm or kpm, received ${JSON.stringify(flags.cordaMethod)}`,
        );
      }
      config.initLoraWeights = 'corda';
      config.cordaConfig = cordaConfig({ cordaMethod: flags.cordaMethod });
      break;
    }
    case 'eva': {
      const { evaConfig } = await import('@lorakit/eva');
      config.initLoraWeights = 'eva';
      config.evaConfig = config.evaConfig ?? evaConfig();
      break;
    }
    case 'loftq':
      await import('@lorakit/loftq');
      config.initLoraWeights = 'loftq';
      config.loftqConfig = { loftq_bits: flags.loftqBits, loftq_iter: flags.loftqIter };
      break;
  }
  return config;
}

/**
 * Initializes an adapter with a data-free (PiSSA, OLoRA, LoftQ) or calibrated (CorDA, EVA) method and
 * returns the PeftModel; CorDA's calibration runs before injection, EVA's after (as in PEFT).
 */
async function initialize(
  method: InitMethod,
  flags: InitFlags,
  model: PreTrainedModel,
  config: LoraConfig,
  context: CommandContext,
): Promise<PeftModel> {
  const log = (line: string) => context.print(line);
  if (method === 'corda') {
    const tokenizer = await loadModelTokenizer(flags.model, 'CorDA tokenizes the calibration data with it');
    const examples = calibration(flags, tokenizer);
    const { preprocessCorda } = await import('@lorakit/inits-svd');
    // CorDA's covariances are averaged over forward calls of one sequence each (PEFT's protocol).
    await preprocessCorda(model, config, () => {
      for (const example of examples)
        model.call({ inputIds: tensor([example.inputIds], { dtype: 'int64' }) });
    });
    log(`CorDA: covariances from ${examples.length} calibration sequences`);
    return getPeftModel(model, config);
  }
  const peft = getPeftModel(model, config);
  if (method === 'eva') {
    const tokenizer = await loadModelTokenizer(flags.model, 'EVA tokenizes the calibration data with it');
    const examples = calibration(flags, tokenizer);
    const batches = batchesOf(
      examples,
      flags.batchSize,
      tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0,
    ).map((b) => ({
      inputIds: b.inputIds,
      attentionMask: b.attentionMask,
      labels: b.labels,
    }));
    const { initializeLoraEvaWeights } = await import('@lorakit/eva');
    // EVA cycles through the data until every layer's components have converged: show how many have.
    const bar = context.progress({ label: 'eva', total: undefined });
    await initializeLoraEvaWeights(peft, batches, {
      onProgress: ({ step, convergedLayers, totalLayers }) => {
        bar.setTotal(totalLayers);
        bar.update(convergedLayers, `batch ${step}`);
      },
    });
    bar.finish();
    log(`EVA: components from ${examples.length} calibration examples in ${batches.length} batches`);
  }
  return peft;
}

export function registerInit(program: Command): void {
  const command = program
    .command('init')
    .summary('initialize an adapter with PiSSA, OLoRA, CorDA, EVA or LoftQ')
    .description(
      'Initializes a LoRA adapter from the base weights (PiSSA, OLoRA, LoftQ) or from calibration data\n' +
        '(CorDA, EVA: --data) and writes it to --out in PEFT format. PiSSA, OLoRA, CorDA and LoftQ move part\n' +
        'of each base weight into the adapter: the changed base is written to --out/residual-base. The saved\n' +
        'config keeps init_lora_weights, so loading the adapter onto the ORIGINAL base rebuilds the residual\n' +
        '(as PEFT does); after training, `lorakit convert` turns it into a plain LoRA adapter.',
    )
    .requiredOption('--method <name>', `one of ${INIT_METHODS.join(', ')}`)
    .requiredOption('--model <dir>', 'base model folder')
    .requiredOption('--out <dir>', 'output folder for the adapter (and residual-base/)');
  addLoraOptions(command)
    .option('--data <file>', 'calibration data for corda and eva (.txt or .jsonl, like train)')
    .option('--samples <n>', 'calibration examples to use', integerOption(1), 256)
    .option('--batch-size <n>', 'EVA calibration batch size', integerOption(1), 16)
    .option('--max-length <n>', 'cut calibration examples to this many tokens', integerOption(2), 512)
    .option(
      '--niter <n>',
      'PiSSA: fast randomized SVD with n subspace iterations (pissa_niter_n)',
      integerOption(1),
    )
    .option('--corda-method <m>', 'CorDA: ipm (instruction-previewed) or kpm (knowledge-preserved)', 'ipm')
    .option('--loftq-bits <b>', 'LoftQ: 4 (NF4) or 8 (int8)', integerOption(1), 4)
    .option('--loftq-iter <n>', 'LoftQ: alternating iterations', integerOption(1), 1)
    .option('--seed <n>', 'seed of any random step (randomized SVD)', integerOption(0), 42)
    .option('--no-residual', 'do not write residual-base/')
    .addHelpText(
      'after',
      '\nExamples:\n  lorakit init --method pissa --model ./llama --r 16 --target-modules q_proj,v_proj --out ./pissa-init\n' +
        '  lorakit init --method corda --model ./llama --data calib.txt --corda-method kpm --out ./corda-init\n' +
        '  lorakit init --method eva --model ./llama --data calib.jsonl --target-modules all-linear --out ./eva-init',
    )
    .action(async (flags: InitFlags, cmd: Command) => {
      const context = CommandContext.of(cmd);
      if (!(INIT_METHODS as readonly string[]).includes(flags.method)) {
        throw new CliError(
          `--method must be one of ${INIT_METHODS.join(', ')}, received ${JSON.stringify(flags.method)}`,
        );
      }
      const method = flags.method as InitMethod;
      const backend = await chooseBackend(cmd.optsWithGlobals().backend);
      context.debug(`backend: ${backend.name} — ${backend.reason}`);
      const config = await configFor(method, flags);
      const model = await loadBaseModel(flags.model);
      manualSeed(flags.seed);
      const started = performance.now();
      const peft = await initialize(method, flags, model, config, context);
      for (const warning of peft.warnings) context.debug(`warning: ${warning}`);
      await saveAdapter(peft, flags.out);
      const seconds = (performance.now() - started) / 1000;
      const modules = peft.loraLayers().length;
      context.print(
        `${method}: initialized ${modules} LoRA modules in ${seconds.toFixed(1)} s — ${peft.trainableParametersSummary()}`,
      );
      context.print(`adapter: ${flags.out}`);
      let residual: string | null = null;
      if (MUTATES_BASE.has(method) && flags.residual) {
        residual = join(flags.out, 'residual-base');
        const base = peft.unload() as PreTrainedModel;
        await saveModel(base, residual);
        copyTokenizerFiles(flags.model, residual);
        context.print(`residual base model: ${residual} (the base weights minus what the adapter now holds)`);
      }
      context.result({
        method,
        adapter: flags.out,
        residualBase: residual,
        modules,
        initLoraWeights: config.initLoraWeights,
        seconds,
        backend: backend.name,
      });
    });
}
