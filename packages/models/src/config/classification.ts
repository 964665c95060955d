import type { ConfigFields } from './fields.js';

export type ProblemType = 'regression' | 'single_label_classification' | 'multi_label_classification';

const PROBLEM_TYPES: readonly ProblemType[] = [
  'regression',
  'single_label_classification',
  'multi_label_classification',
];

/**
 * The classification fields every transformers config has: the number of labels is the size of
 * `id2label`, else `num_labels`, else 2; `problem_type` null means "choose from the labels at the first
 * loss", as transformers does.
 */
export function readClassification(fields: ConfigFields): {
  numLabels: number;
  problemType: ProblemType | null;
} {
  const id2label = fields.object('id2label');
  const numLabels = id2label ? Object.keys(id2label).length : fields.int('num_labels', 2);
  const problemType = fields.has('problem_type')
    ? fields.choice<ProblemType>('problem_type', 'single_label_classification', PROBLEM_TYPES)
    : null;
  return { numLabels, problemType };
}
