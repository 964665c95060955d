import type { Command } from 'commander';
import { chooseBackend } from '../backend.js';
import { CommandContext } from '../context.js';
import { runDemo } from '../demo/run-demo.js';
import { integerOption, numberOption } from '../options.js';

interface DemoFlags {
  out: string;
  steps: number;
  batchSize: number;
  lr: number;
  r: number;
  heldOut: number;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .summary(
      'the main job: fine-tune the shipped tiny model with LoRA on a new task, offline, in about a minute',
    )
    .description(
      'Runs offline on the tiny Llama that ships with lorakit (pretrained by demo/pretrain.ts to copy letters):\n' +
        'measures held-out exact-match accuracy on a task it never saw (shifting letters), fine-tunes a LoRA\n' +
        'adapter on it with a progress bar, measures again, saves the adapter in PEFT format and a loss-curve\n' +
        'PNG, merges the adapter into a full checkpoint (checking merged logits equal unmerged ones), and\n' +
        'prints sample answers of the base and the adapted model.',
    )
    .option('--out <dir>', 'output folder (adapter/, merged/, loss.png, shift-train.jsonl)', 'lorakit-demo')
    .option('--steps <n>', 'fine-tuning steps', integerOption(1), 60)
    .option('--batch-size <n>', 'examples per step', integerOption(1), 32)
    .option('--lr <rate>', 'peak learning rate', numberOption({ min: 0, exclusiveMin: true }), 1e-2)
    .option('--r <rank>', 'LoRA rank (alpha = r)', integerOption(1), 16)
    .option('--held-out <n>', 'held-out words to measure accuracy on', integerOption(1), 100)
    .addHelpText('after', '\nExamples:\n  lorakit demo\n  lorakit demo --out /tmp/demo --steps 80 --json')
    .action(async (flags: DemoFlags, cmd: Command) => {
      const context = CommandContext.of(cmd);
      const backend = await chooseBackend(cmd.optsWithGlobals().backend);
      context.debug(`backend: ${backend.name} — ${backend.reason}`);
      const result = await runDemo(
        context,
        {
          out: flags.out,
          steps: flags.steps,
          batchSize: flags.batchSize,
          learningRate: flags.lr,
          r: flags.r,
          heldOut: flags.heldOut,
        },
        backend.name,
      );
      context.result(result);
    });
}
