import { Generator } from '@lorakit/tensor';
import type { Command } from 'commander';
import { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { integerOption, listOption, numberListOption, numberOption } from '../options.js';
import { requireAdapterDirectory } from '../paths.js';

interface CombineFlags {
  adapters: string[];
  weights: number[];
  type: string;
  density?: number;
  majoritySign?: 'total' | 'frequency';
  svdRank?: number;
  svdClamp?: number;
  svdMethod?: 'exact' | 'randomized';
  seed: number;
  out: string;
}

export function registerCombine(program: Command): void {
  program
    .command('combine')
    .summary('weighted merge of adapters (linear, cat, svd, ties, dare, magnitude_prune …) from files')
    .description(
      "PEFT's add_weighted_adapter on adapter files alone (no base model): merges adapters trained on the same\n" +
        'base into one new PEFT adapter, one module at a time. Types: svd (default), linear, cat, ties,\n' +
        'dare_linear, dare_ties, magnitude_prune and their _svd forms; the pruning types need --density.',
    )
    .requiredOption('--adapters <dirs>', 'comma-separated adapter folders', listOption)
    .requiredOption('--weights <numbers>', 'comma-separated weights, one per adapter', numberListOption)
    .option('--type <name>', 'combination type', 'svd')
    .option(
      '--density <d>',
      'fraction of entries kept by ties/dare/magnitude_prune',
      numberOption({ min: 0, max: 1 }),
    )
    .option('--majority-sign <m>', 'ties sign election: total or frequency')
    .option('--svd-rank <r>', 'rank of the svd types (default: the largest input rank)', integerOption(1))
    .option('--svd-clamp <q>', 'clamp the SVD factors at this quantile', numberOption({ min: 0, max: 1 }))
    .option('--svd-method <m>', 'exact or randomized SVD for full-rank deltas')
    .option('--seed <n>', 'seed of the random DARE masks', integerOption(0), 0)
    .requiredOption('--out <dir>', 'output folder for the merged adapter')
    .addHelpText(
      'after',
      '\nExamples:\n  lorakit combine --adapters ./a,./b --weights 0.7,0.3 --type ties --density 0.5 --out ./ab\n' +
        '  lorakit combine --adapters ./a,./b --weights 1,1 --type cat --out ./ab-cat',
    )
    .action(async (flags: CombineFlags, cmd: Command) => {
      const context = CommandContext.of(cmd);
      for (const dir of flags.adapters) requireAdapterDirectory(dir);
      if (flags.weights.length !== flags.adapters.length) {
        throw new CliError(
          `--weights has ${flags.weights.length} value${flags.weights.length === 1 ? '' : 's'} but --adapters names ${flags.adapters.length} adapter${flags.adapters.length === 1 ? '' : 's'}; give one weight per adapter`,
        );
      }
      if (
        flags.majoritySign !== undefined &&
        flags.majoritySign !== 'total' &&
        flags.majoritySign !== 'frequency'
      ) {
        throw new CliError(
          `--majority-sign must be total or frequency, received ${JSON.stringify(flags.majoritySign)}`,
        );
      }
      if (flags.svdMethod !== undefined && flags.svdMethod !== 'exact' && flags.svdMethod !== 'randomized') {
        throw new CliError(
          `--svd-method must be exact or randomized, received ${JSON.stringify(flags.svdMethod)}`,
        );
      }
      const { combineAdapterFiles } = await import('@lorakit/merge-strategies');
      const { registeredMergeStrategies } = await import('@lorakit/lora');
      if (!registeredMergeStrategies().includes(flags.type)) {
        throw new CliError(
          `--type must be one of ${registeredMergeStrategies().join(', ')}, received ${JSON.stringify(flags.type)}`,
        );
      }
      const started = performance.now();
      const bar = context.progress({ label: 'combine', total: undefined });
      const result = await combineAdapterFiles({
        adapters: flags.adapters,
        weights: flags.weights,
        type: flags.type,
        outDir: flags.out,
        options: {
          density: flags.density,
          majoritySignMethod: flags.majoritySign,
          svdRank: flags.svdRank,
          svdClamp: flags.svdClamp,
          svdMethod: flags.svdMethod,
          generator: new Generator(flags.seed),
        },
        onProgress: ({ done, total }) => {
          bar.setTotal(total);
          bar.update(done);
        },
      });
      bar.finish();
      const seconds = (performance.now() - started) / 1000;
      context.print(
        `combined ${flags.adapters.length} adapters (${result.type}, weights ${flags.weights.join(', ')}) into ${flags.out}: ${result.modules.length} modules, r=${result.config.r}, in ${seconds.toFixed(1)} s`,
      );
      context.result({
        out: flags.out,
        type: result.type,
        r: result.config.r,
        loraAlpha: result.config.loraAlpha,
        modules: result.modules,
        seconds,
      });
    });
}
