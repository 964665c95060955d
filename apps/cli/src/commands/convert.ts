import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import {
  CONFIG_NAME,
  dumpPythonJson,
  readAdapterConfig,
  WEIGHTS_NAME,
  writeTextAtomically,
} from '@lorakit/lora';
import { readTensorFile, writeTensorFile } from '@lorakit/tensor';
import type { Command } from 'commander';
import { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { requireAdapterDirectory } from '../paths.js';

interface ConvertFlags {
  initial: string;
  trained: string;
  out: string;
}

function same(a: string, b: string): boolean {
  return existsSync(a) && existsSync(b) && realpathSync(a) === realpathSync(b);
}

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .summary('turn a trained PiSSA/OLoRA/CorDA adapter into plain LoRA for the original base')
    .description(
      'PiSSA, OLoRA and CorDA adapters are trained against a residual base (W − s·B₀·A₀). This writes the\n' +
        'equivalent plain LoRA adapter for the ORIGINAL base (rank 2r: A′ = [A; A₀], B′ = [B, −B₀]), as PEFT\n' +
        "does with save_pretrained(path_initial_model_for_weight_conversion=…). Reads only the two adapters'\n" +
        'files; no base model is needed.',
    )
    .requiredOption('--initial <dir>', 'the adapter saved right after initialization (lorakit init --out)')
    .requiredOption('--trained <dir>', 'the same adapter after training')
    .requiredOption('--out <dir>', 'output folder for the plain LoRA adapter')
    .addHelpText(
      'after',
      '\nExample:\n  lorakit init --method pissa --model ./llama --out ./pissa-init\n' +
        '  lorakit train --model ./pissa-init/residual-base --adapter ./pissa-init --data data.jsonl --out ./pissa-trained\n' +
        '  lorakit convert --initial ./pissa-init --trained ./pissa-trained --out ./lora',
    )
    .action(async (flags: ConvertFlags, cmd: Command) => {
      const context = CommandContext.of(cmd);
      requireAdapterDirectory(flags.initial, '--initial adapter directory');
      requireAdapterDirectory(flags.trained, '--trained adapter directory');
      if (same(flags.out, flags.initial) || same(flags.out, flags.trained)) {
        throw new CliError(
          `--out ${flags.out} is one of the input adapters; write the converted adapter elsewhere`,
        );
      }
      const { convertToLora } = await import('@lorakit/inits-svd');
      const read = (dir: string) => ({
        config: readAdapterConfig(dir),
        tensors: readTensorFile(join(dir, WEIGHTS_NAME)),
      });
      const converted = convertToLora(read(flags.initial), read(flags.trained));
      for (const warning of converted.warnings) context.warn(warning);
      // The trained adapter belongs to lorakit init's residual base; the converted one to the original.
      const recorded = converted.config.baseModelNameOrPath;
      if (recorded && basename(recorded) === 'residual-base') converted.config.baseModelNameOrPath = null;
      mkdirSync(resolve(flags.out), { recursive: true });
      await writeTensorFile(join(flags.out, WEIGHTS_NAME), converted.tensors, { metadata: { format: 'pt' } });
      writeTextAtomically(join(flags.out, CONFIG_NAME), dumpPythonJson(converted.config.toPeftDict()));
      const rank = converted.config.r;
      context.print(
        `converted ${flags.trained} (init ${String(readAdapterConfig(flags.trained).initLoraWeights)}) to plain LoRA r=${rank}, lora_alpha ${converted.config.loraAlpha}: ${flags.out}`,
      );
      context.result({
        out: flags.out,
        r: rank,
        loraAlpha: converted.config.loraAlpha,
        tensors: converted.tensors.size,
        warnings: converted.warnings,
      });
    });
}
