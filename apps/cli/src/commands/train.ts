import { join } from 'node:path';
import type { Command } from 'commander';
import { chooseBackend } from '../backend.js';
import { CommandContext } from '../context.js';
import { EXIT } from '../errors.js';
import { REVISION_HELP, resolveModelArgument, withBaseModelName } from '../hub/resolve-model.js';
import { integerOption, numberOption } from '../options.js';
import { writeLossCurve } from '../plot/loss-curve.js';
import { finetune, MODEL_DTYPES } from '../training/finetune.js';
import { addLoraOptions, type LoraFlags, loraConfigFrom } from '../training/lora-options.js';
import { describeMfu, mfu, type PeakRate, peakRateOf, THROUGHPUT_HELP } from '../training/throughput.js';

interface TrainFlags extends LoraFlags {
  model: string;
  data: string;
  out: string;
  epochs?: number;
  maxSteps?: number;
  batchSize: number;
  gradAccum: number;
  lr: number;
  weightDecay: number;
  schedule: string;
  warmupSteps: number;
  maxGradNorm?: number;
  seed: number;
  evalSplit: number;
  evalEvery?: number;
  saveEvery?: number;
  maxLength: number;
  resume?: string;
  adapter?: string;
  plot: boolean;
  revision?: string;
  completionOnly?: boolean;
  gradientCheckpointing?: boolean;
  dtype: string;
}

export function registerTrain(program: Command): void {
  const command = program
    .command('train')
    .summary('LoRA fine-tuning of a causal LM, seq2seq LM or classifier on a text or JSONL file')
    .description(
      'LoRA fine-tuning of a causal language model: --data is plain text (one example per line) or JSONL with\n' +
        '{"text": …}, {"prompt": …, "completion": …} (prompt tokens get no loss) or {"messages": [{"role": …,\n' +
        '"content": …}, …]} lines (rendered with the chat template of tokenizer_config.json; only assistant\n' +
        'turns get loss). --model is a folder or a Hugging Face Hub id (org/name, downloaded into the Hugging\n' +
        'Face cache and reused; HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE=1 are read). A sequence-to-sequence\n' +
        'model (T5) takes {"input": …, "target": …} lines; a sequence classifier (…ForSequenceClassification)\n' +
        '{"text": …, "label": …} lines (a class id or a label2id name). Tokenized with the\n' +
        "checkpoint's tokenizer.json. Writes a PEFT adapter (adapter_config.json + adapter_model.safetensors),\n" +
        'trainer_state.json and loss.png to --out.\n\n' +
        THROUGHPUT_HELP,
    )
    .requiredOption(
      '--model <dir|org/name>',
      'base model folder (config.json, safetensors weights, tokenizer.json) or Hub model id',
    )
    .option('--revision <rev>', REVISION_HELP)
    .requiredOption('--data <file>', 'training data: .txt (one example per line) or .jsonl')
    .requiredOption('--out <dir>', 'output folder for the adapter and checkpoints');
  addLoraOptions(command)
    .option('--epochs <n>', 'passes over the data (default 1)', integerOption(1))
    .option('--max-steps <n>', 'stop after this many optimizer steps (overrides --epochs)', integerOption(1))
    .option('--batch-size <n>', 'examples per micro-batch', integerOption(1), 8)
    .option('--grad-accum <n>', 'micro-batches per optimizer step', integerOption(1), 1)
    .option('--lr <rate>', 'peak learning rate of AdamW', numberOption({ min: 0, exclusiveMin: true }), 2e-4)
    .option('--weight-decay <w>', 'AdamW decoupled weight decay', numberOption({ min: 0 }), 0)
    .option(
      '--schedule <name>',
      'learning-rate schedule: constant, constant_with_warmup, linear, cosine',
      'linear',
    )
    .option('--warmup-steps <n>', 'linear warmup steps', integerOption(0), 0)
    .option(
      '--max-grad-norm <norm>',
      'clip the gradient norm',
      numberOption({ min: 0, exclusiveMin: true }),
      1,
    )
    .option('--seed <n>', 'seed of the LoRA init, data order and evaluation split', integerOption(0), 42)
    .option(
      '--eval-split <fraction>',
      'hold out this fraction of the data for evaluation loss',
      numberOption({ min: 0, max: 0.9 }),
      0,
    )
    .option('--eval-every <n>', 'evaluate every n steps (default: at the end only)', integerOption(1))
    .option(
      '--save-every <n>',
      'write a checkpoint (adapter + optimizer state) to --out/checkpoint-<step> every n steps',
      integerOption(1),
    )
    .option('--max-length <n>', 'cut longer examples to this many tokens', integerOption(2), 512)
    .option('--resume <dir>', 'continue from a checkpoint folder written by --save-every')
    .option(
      '--adapter <dir>',
      'train an existing adapter further (e.g. from lorakit init) instead of a new one',
    )
    .option('--completion-only', 'loss only on completions and assistant turns (the default)')
    .option('--no-completion-only', 'loss on every token, prompts and user turns included')
    .option(
      '--gradient-checkpointing',
      "keep only each decoder layer's input and recompute the layer in backward: activation memory of one layer instead of all, for about one more forward per step; same gradients",
    )
    .option(
      '--dtype <dtype>',
      `dtype of the base model's weights and compute: ${MODEL_DTYPES.join(', ')} (bfloat16 halves memory; the LoRA factors stay float32, as PEFT's autocast_adapter_dtype)`,
      'float32',
    )
    .option('--no-plot', 'do not write loss.png')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  lorakit train --model ./llama --data data.jsonl --r 16 --alpha 32 --target-modules q_proj,v_proj --out ./adapter\n' +
        '  lorakit train --model ./llama --data notes.txt --config lora.json --epochs 3 --eval-split 0.1 --save-every 50 --out ./adapter\n' +
        '  lorakit train --model ./llama --data notes.txt --config lora.json --epochs 3 --out ./adapter --resume ./adapter/checkpoint-50\n' +
        '  lorakit train --model Qwen/Qwen2.5-0.5B-Instruct --data chat.jsonl --target-modules all-linear --out ./adapter',
    )
    .action(async (flags: TrainFlags, cmd: Command) => {
      const context = CommandContext.of(cmd);
      const backend = await chooseBackend(cmd.optsWithGlobals().backend);
      context.debug(`backend: ${backend.name} — ${backend.reason}`);
      const loraConfig = withBaseModelName(loraConfigFrom(flags, { taskType: 'CAUSAL_LM' }), flags.model);
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      let bar: ReturnType<CommandContext['progress']> | undefined;
      let evalText = '';
      let peak: PeakRate | undefined;
      try {
        const modelDir = await resolveModelArgument(flags.model, { revision: flags.revision, context });
        const result = await finetune({
          modelDir,
          dataPath: flags.data,
          out: flags.out,
          loraConfig,
          resume: flags.resume,
          adapter: flags.adapter,
          signal: controller.signal,
          settings: {
            epochs: flags.epochs,
            maxSteps: flags.maxSteps,
            batchSize: flags.batchSize,
            gradientAccumulation: flags.gradAccum,
            learningRate: flags.lr,
            weightDecay: flags.weightDecay,
            schedule: flags.schedule,
            warmupSteps: flags.warmupSteps,
            maxGradNorm: flags.maxGradNorm,
            seed: flags.seed,
            evalSplit: flags.evalSplit,
            evalEvery: flags.evalEvery,
            saveEvery: flags.saveEvery,
            maxLength: flags.maxLength,
            completionOnly: flags.completionOnly,
            gradientCheckpointing: flags.gradientCheckpointing,
            dtype: flags.dtype,
          },
          onStart: (info) => {
            context.print(info.trainable);
            context.print(
              `${info.trainExamples} training examples${info.evalExamples ? `, ${info.evalExamples} for evaluation` : ''}; ${info.totalSteps} steps${info.startStep ? ` (resuming after step ${info.startStep})` : ''}`,
            );
            peak = peakRateOf(backend.device, info.computeDtype);
            bar = context.progress({ label: 'train', total: info.totalSteps });
            bar.update(info.startStep);
          },
          onStep: (info, work) => {
            const rate =
              info.tokens !== undefined && info.stepMs > 0 ? (info.tokens / info.stepMs) * 1000 : 0;
            const utilization = peak ? `  MFU ${(mfu(work.flops, info.stepMs, peak) * 100).toFixed(1)}%` : '';
            bar?.update(
              info.step,
              `loss ${info.loss.toFixed(4)}${evalText}  ${Math.round(rate).toLocaleString('en-US')} tok/s${utilization}`,
            );
          },
          onEvaluate: ({ loss }) => {
            evalText = `  eval ${loss.toFixed(4)}`;
          },
          onCheckpoint: ({ step, dir }) => {
            bar?.clear();
            context.debug(`checkpoint at step ${step}: ${dir}`);
          },
        });
        bar?.finish();
        const last = result.losses.at(-1);
        const evalLoss = result.evalLosses.at(-1);
        if (result.stopReason === 'aborted') {
          context.print(
            `interrupted at step ${result.steps}; saved ${result.adapterDir} — continue with --resume ${result.adapterDir}`,
          );
          context.result({ interrupted: true, step: result.steps, checkpoint: result.adapterDir });
          process.exitCode = EXIT.interrupted;
          return;
        }
        let plot: string | undefined;
        if (flags.plot && result.losses.length > 1) {
          plot = join(flags.out, 'loss.png');
          await writeLossCurve(plot, result.losses, {
            evaluation: result.evalLosses,
            title: 'lorakit train',
          });
        }
        const seconds = result.trainMs / 1000;
        const tokensPerSecond = seconds > 0 ? result.tokens / seconds : 0;
        context.print(
          `trained ${result.steps} steps in ${seconds.toFixed(1)} s (${Math.round(tokensPerSecond).toLocaleString('en-US')} tok/s, ${describeMfu(result.flops, result.trainMs, peak, { backend: backend.name, device: backend.device })}); final loss ${last?.loss.toFixed(4) ?? 'n/a'}${evalLoss ? `, eval loss ${evalLoss.loss.toFixed(4)}` : ''}`,
        );
        context.print(`adapter: ${flags.out}${plot ? `\nloss curve: ${plot}` : ''}`);
        context.result({
          adapter: flags.out,
          steps: result.steps,
          loss: last?.loss ?? null,
          evalLoss: evalLoss?.loss ?? null,
          tokens: result.tokens,
          seconds,
          tokensPerSecond,
          flops: result.flops,
          mfu: peak ? mfu(result.flops, result.trainMs, peak) : null,
          peakFlops: peak ? { device: peak.name, precision: peak.precision, flops: peak.flops } : null,
          backend: backend.name,
          lossCurve: plot ?? null,
          losses: result.losses,
          evalLosses: result.evalLosses,
        });
      } catch (error) {
        bar?.clear();
        throw error;
      } finally {
        process.removeListener('SIGINT', onSignal);
      }
    });
}
