import { generate } from '@lorakit/models';
import { Generator, noGrad } from '@lorakit/tensor';
import type { Command } from 'commander';
import { chooseBackend } from '../backend.js';
import { CommandContext } from '../context.js';
import { REVISION_HELP, resolveModelArgument } from '../hub/resolve-model.js';
import { attachAdapter, loadBaseModel, loadModelTokenizer } from '../loading.js';
import { integerOption, numberOption } from '../options.js';
import { registerInitPlugins } from '../plugins.js';

interface GenerateFlags {
  model: string;
  adapter?: string;
  prompt: string[];
  maxNewTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  seed: number;
  specialTokens: boolean;
  revision?: string;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .summary('generate text with a model, optionally with an adapter')
    .description(
      'Generates a continuation of each --prompt with the base model, or with an adapter applied (for an\n' +
        'encoder-decoder model such as T5: the output for each prompt). Greedy at\n' +
        'temperature 0 (the default); sampling with --temperature > 0, --top-k, --top-p and a --seed.',
    )
    .requiredOption(
      '--model <dir|org/name>',
      'base model folder (config.json, weights, tokenizer.json) or Hub model id',
    )
    .option('--revision <rev>', REVISION_HELP)
    .option('--adapter <dir>', 'PEFT adapter folder to apply')
    .requiredOption(
      '--prompt <text>',
      'prompt text (repeat for several prompts, generated as one batch)',
      collect,
    )
    .option('--max-new-tokens <n>', 'tokens to generate (at least 1)', integerOption(1), 32)
    .option('--temperature <t>', '0 = greedy; > 0 samples', numberOption({ min: 0 }), 0)
    .option('--top-k <k>', 'sample among the k most likely tokens', integerOption(1))
    .option(
      '--top-p <p>',
      'nucleus sampling: the smallest set with probability ≥ p',
      numberOption({ min: 0, max: 1, exclusiveMin: true }),
    )
    .option('--seed <n>', 'seed of the sampling generator', integerOption(0), 0)
    .option('--special-tokens', 'keep special tokens in the output text')
    .addHelpText(
      'after',
      '\nExamples:\n  lorakit generate --model ./llama --prompt "Once upon a time"\n' +
        '  lorakit generate --model ./llama --adapter ./adapter --prompt "shift: hello|" --max-new-tokens 6\n' +
        '  lorakit generate --model ./llama --prompt "Hi" --temperature 0.8 --top-p 0.9 --seed 1 --json',
    )
    .action(async (flags: GenerateFlags, cmd: Command) => {
      const context = CommandContext.of(cmd);
      const backend = await chooseBackend(cmd.optsWithGlobals().backend);
      context.debug(`backend: ${backend.name} — ${backend.reason}`);
      const modelDir = await resolveModelArgument(flags.model, { revision: flags.revision, context });
      const tokenizer = await loadModelTokenizer(modelDir, 'generation encodes the prompt with it');
      const model = await loadBaseModel(modelDir);
      if (flags.adapter) {
        await registerInitPlugins();
        attachAdapter(model, flags.adapter, modelDir);
      }
      model.eval();
      // Decoder-only models continue the prompt (left padding keeps the last tokens aligned); an
      // encoder-decoder reads it whole (right padding) and its output starts with the decoder start token.
      const encoderDecoder = model.isEncoderDecoder;
      const { inputIds, attentionMask } = tokenizer.encodeBatch(flags.prompt, {
        paddingSide: encoderDecoder ? 'right' : 'left',
      });
      const promptLength = encoderDecoder ? 1 : inputIds.shape[1]!;
      const started = performance.now();
      const sampling = flags.temperature > 0;
      const sequences = noGrad(() =>
        generate(model, inputIds, {
          attentionMask,
          maxNewTokens: flags.maxNewTokens,
          doSample: sampling,
          temperature: sampling ? flags.temperature : undefined,
          topK: sampling ? flags.topK : undefined,
          topP: sampling ? flags.topP : undefined,
          generator: sampling ? new Generator(flags.seed) : undefined,
        }),
      );
      const ms = performance.now() - started;
      const rows = (sequences.toList() as (number | bigint)[][]).map((row) =>
        row.slice(promptLength).map(Number),
      );
      const texts = rows.map((ids) => tokenizer.decode(ids, { skipSpecialTokens: !flags.specialTokens }));
      for (const [i, text] of texts.entries()) {
        const shown = encoderDecoder ? `${flags.prompt[i]} → ${text}` : `${flags.prompt[i]}${text}`;
        context.print(flags.prompt.length > 1 ? `[${i + 1}] ${shown}` : shown);
      }
      const tokens = rows.reduce((n, r) => n + r.length, 0);
      context.debug(`${tokens} tokens in ${(ms / 1000).toFixed(2)} s`);
      context.result({
        completions: flags.prompt.map((prompt, i) => ({
          prompt,
          completion: texts[i],
          tokens: rows[i]!.length,
        })),
        adapter: flags.adapter ?? null,
        backend: backend.name,
        seconds: ms / 1000,
      });
    });
}
