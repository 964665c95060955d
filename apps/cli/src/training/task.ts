import type { PreTrainedModel } from '@lorakit/models';
import { CliError } from '../errors.js';
import type { RawExample } from './dataset.js';

/** What a model learns from the data: the next token, a target sequence, or a class. */
export type TrainingTask = 'causal-lm' | 'seq2seq' | 'sequence-classification';

/** PEFT's `task_type` of each task (SEQ_CLS also saves the classification head with the adapter). */
export const PEFT_TASK_TYPES = {
  'causal-lm': 'CAUSAL_LM',
  seq2seq: 'SEQ_2_SEQ_LM',
  'sequence-classification': 'SEQ_CLS',
} as const satisfies Record<TrainingTask, string>;

/** The task of a loaded model: encoder-decoder → seq2seq, `…ForSequenceClassification` → classes. */
export function trainingTaskOf(model: PreTrainedModel): TrainingTask {
  if (model.isEncoderDecoder) return 'seq2seq';
  if (model.architecture.endsWith('ForSequenceClassification')) return 'sequence-classification';
  if (model.canGenerate) return 'causal-lm';
  throw new CliError(
    `train: ${model.architecture} has no training task lorakit can run; supported: causal LMs (…ForCausalLM, GPT2LMHeadModel), sequence-to-sequence LMs (T5ForConditionalGeneration) and sequence classifiers (…ForSequenceClassification)`,
  );
}

/** The data each task takes, for error messages. */
const EXPECTED: Record<TrainingTask, string> = {
  'causal-lm':
    'plain text lines, or JSONL lines with "text", "prompt" + "completion", "input" + "target" or "messages"',
  seq2seq: 'JSONL lines with "input" and "target" (or "prompt" and "completion")',
  'sequence-classification': 'JSONL lines with "text" and "label"',
};

/**
 * Refuses data that does not fit the task before anything is trained, naming the first line that does
 * not fit, the task and what works (classification labels: the class ids or label2id's names).
 */
export function checkExamplesFor(
  task: TrainingTask,
  examples: readonly RawExample[],
  where: string,
  model: PreTrainedModel,
): void {
  const fits = (example: RawExample): boolean => {
    if (task === 'sequence-classification') return 'label' in example;
    if (task === 'seq2seq') return 'target' in example || 'completion' in example;
    return !('label' in example);
  };
  const index = examples.findIndex((example) => !fits(example));
  if (index < 0) return;
  const line = examples[index]!.line ?? index + 1;
  const kind = {
    'causal-lm': 'a causal language model',
    seq2seq: 'a sequence-to-sequence model',
    'sequence-classification': `a sequence classifier with ${model.config.numLabels} labels`,
  }[task];
  const labels = task === 'sequence-classification' ? ` (label: ${describeLabels(model).join(' or ')})` : '';
  throw new CliError(
    `${where}:${line} does not fit ${model.architecture}, ${kind}: --data must hold ${EXPECTED[task]}${labels}`,
  );
}

/** What a label may be: a class id, a name from `label2id`, or a number for regression. */
function describeLabels(model: PreTrainedModel): string[] {
  const { numLabels } = model.config;
  if (numLabels === 1) return ['a number (regression)'];
  const names = Object.keys(labelIds(model));
  return [
    `a class id 0…${numLabels - 1}`,
    ...(names.length ? [`a name in label2id (${names.join(', ')})`] : []),
  ];
}

/** config.json's `label2id` (names → ids), empty when absent or only transformers' LABEL_N defaults. */
export function labelIds(model: PreTrainedModel): Record<string, number> {
  const raw = model.config.raw.label2id;
  if (!raw || typeof raw !== 'object') return {};
  const entries = Object.entries(raw as Record<string, unknown>).filter(
    (entry): entry is [string, number] => typeof entry[1] === 'number',
  );
  if (entries.every(([name, id]) => name === `LABEL_${id}`)) return {};
  return Object.fromEntries(entries);
}

/** A JSONL label as a class id (or a float for regression); errors name the line and the choices. */
export function resolveLabel(label: number | string, model: PreTrainedModel, where: string): number {
  const { numLabels } = model.config;
  if (numLabels === 1 && typeof label === 'number') return label;
  const ids = labelIds(model);
  const id = typeof label === 'string' ? ids[label] : label;
  if (id === undefined || !Number.isInteger(id) || id < 0 || id >= numLabels) {
    throw new CliError(
      `${where}: label ${JSON.stringify(label)} is not a label of ${model.architecture}; use ${describeLabels(model).join(' or ')}`,
    );
  }
  return id;
}
