import type { Command } from 'commander';
import { chooseBackend } from '../backend.js';
import { CommandContext } from '../context.js';
import { type MergeFlags, mergeToCheckpoint } from '../merging/merge-checkpoint.js';
import { formatBytes } from '../paths.js';

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .summary('merge an adapter into its base model and write a full checkpoint')
    .description(
      'Merge-and-unload: folds the adapter into the base weights (W + scaling·B·A; DoRA rescaled) and writes a\n' +
        'full checkpoint (config.json + model.safetensors, sharded above --max-shard-size) that loads without\n' +
        'PEFT. Streams one tensor at a time when it can (plain LoRA factors and modules_to_save), so memory\n' +
        'stays at about one weight matrix; otherwise (layer_replication, lora_bias, stored base tensors,\n' +
        'convolutions) it loads the whole model. The adapter is checked against the model before anything is\n' +
        'merged, and --out is replaced as a whole: a failed or interrupted merge leaves the previous checkpoint.',
    )
    .requiredOption('--model <dir>', 'base model folder')
    .requiredOption('--adapter <dir>', 'PEFT adapter folder')
    .requiredOption('--out <dir>', 'output checkpoint folder')
    .option('--safe', 'safe merge: check the merged weights for NaN/Inf before writing them')
    .option('--max-shard-size <size>', 'largest shard (e.g. 5GB, 500MB)', '5GB')
    .option('--dtype <dtype>', "stored dtype: float32, float16, bfloat16 (default: the base checkpoint's)")
    .option(
      '--in-memory',
      'load the whole model and use mergeAndUnload + saveModel even when streaming is possible',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  lorakit merge --model ./llama --adapter ./adapter --out ./llama-merged --safe\n' +
        '  lorakit merge --model ./llama --adapter ./adapter --out ./merged --max-shard-size 2GB --dtype bfloat16',
    )
    .action(async (flags: MergeFlags, cmd: Command) => {
      const context = CommandContext.of(cmd);
      const backend = await chooseBackend(cmd.optsWithGlobals().backend);
      context.debug(`backend: ${backend.name} — ${backend.reason}`);
      const started = performance.now();
      let bar: ReturnType<CommandContext['progress']> | undefined;
      const result = await mergeToCheckpoint(flags, (done, total) => {
        bar ??= context.progress({ label: 'merge', total });
        bar.update(done);
      });
      bar?.finish();
      const seconds = (performance.now() - started) / 1000;
      context.print(
        `merged ${result.modules} LoRA modules into ${flags.out} (${result.mode}${result.reason ? `: ${result.reason}` : ', one tensor at a time'}) in ${seconds.toFixed(1)} s${result.bytes ? `; ${formatBytes(result.bytes)} of weights` : ''}`,
      );
      if (flags.safe) context.print('safe merge: no NaN or Inf in the merged weights');
      context.result({ out: flags.out, ...result, safe: Boolean(flags.safe), seconds });
    });
}
