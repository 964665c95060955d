import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadAdapter, type PeftModel } from '@lorakit/lora';
import { loadModel, loadTokenizer, type PreTrainedModel, type Tokenizer } from '@lorakit/models';
import { CliError } from './errors.js';
import { requireAdapterDirectory, requireModelDirectory } from './paths.js';
import { requireResidualBase } from './residual-base.js';

/** Loads a base model, failing with one line naming the folder and the problem. */
export async function loadBaseModel(dir: string, what = '--model'): Promise<PreTrainedModel> {
  requireModelDirectory(dir, `${what} directory`);
  return loadModel(dir);
}

export async function loadModelTokenizer(dir: string, why: string): Promise<Tokenizer> {
  if (!existsSync(join(dir, 'tokenizer.json'))) {
    throw new CliError(`model directory ${dir} has no tokenizer.json (${why})`);
  }
  return loadTokenizer(dir);
}

/**
 * Loads an adapter onto a model. When the adapter does not fit, the error names the modules: targets
 * the model lacks, or factors whose shapes differ from the model's layers.
 */
export function attachAdapter(model: PreTrainedModel, dir: string, modelDir: string): PeftModel {
  requireAdapterDirectory(dir, '--adapter directory');
  requireResidualBase(dir, modelDir);
  try {
    return loadAdapter(model, dir);
  } catch (error) {
    const message = (error as Error).message;
    if (/does not fit the model|matched no module|target.?modules/i.test(message)) {
      throw new CliError(
        `adapter ${dir} does not fit the model in ${modelDir}: ${message.replace(/^\[[^\]]+\]\s*/, '')}`,
        { cause: error },
      );
    }
    throw error;
  }
}
