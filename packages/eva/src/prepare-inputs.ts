import type { LoraConfig } from '@lorakit/lora';
import type { AnyModule } from '@lorakit/nn';
import { Tensor, tensor } from '@lorakit/tensor';
import { EvaError } from './errors.js';
import { readEvaConfig } from './eva-config.js';

/** Runs the model on one batch (PEFT's `forward_fn`). The hooks collect layer inputs during the call. */
export type ForwardFn = (model: AnyModule, inputs: unknown) => unknown;

/**
 * Turns a batch into what every layer's {@link PrepareLayerInputsFn} receives as `modelInput` (PEFT's
 * `prepare_model_inputs_fn`), once per batch. The language-modeling default returns the token positions
 * to keep.
 */
export type PrepareModelInputsFn = (inputs: unknown, peftConfig: LoraConfig) => unknown;

/**
 * Turns one layer's forward arguments into the [rows, features] matrix its incremental PCA sees
 * (PEFT's `prepare_layer_inputs_fn`). `layerInput` is the array of arguments the layer was called with.
 */
export type PrepareLayerInputsFn = (layerInput: unknown, modelInput: unknown, layerName: string) => Tensor;

/** PEFT's `forward_fn_dict`: `model(**inputs)`; lorakit models take one object (`{ inputIds, … }`). */
export const forwardFnDict: ForwardFn = (model, inputs) => model.call(inputs);

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Tensor) return `a tensor of shape [${value.shape.join(', ')}]`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'object') return `an object with keys ${Object.keys(value).join(', ') || '(none)'}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Tensor);
}

function matrixField(inputs: Record<string, unknown>, field: string): Tensor | undefined {
  const value = inputs[field];
  if (value === undefined || value === null) return undefined;
  if (!(value instanceof Tensor) || value.rank !== 2) {
    throw new EvaError(
      `[eva] batch field ${field} must be a 2-D tensor [batch, sequence], received ${describe(value)}`,
    );
  }
  return value;
}

/**
 * PEFT's `prepare_model_inputs_fn_language_modeling`: the [N, 2] int64 (batch, position) indices of the
 * tokens to keep — those with `attentionMask` ≠ 0 (every position when the batch has no mask), and with
 * `useLabelMask` also `labels ≠ labelMaskValue` when the batch has labels. Batches are objects with
 * lorakit's model input names: `{ inputIds, attentionMask?, labels? }`.
 */
export const prepareModelInputsFnLanguageModeling: PrepareModelInputsFn = (inputs, peftConfig) => {
  if (!isRecord(inputs)) {
    throw new EvaError(
      `[eva] When using prepareModelInputsFnLanguageModeling inputs must be an object like { inputIds, attentionMask?, labels? }, received ${describe(inputs)}`,
    );
  }
  const eva = readEvaConfig(peftConfig.evaConfig);
  const inputIds = matrixField(inputs, 'inputIds');
  const attentionMask = matrixField(inputs, 'attentionMask');
  const reference = attentionMask ?? inputIds;
  if (!reference) {
    throw new EvaError(
      `[eva] the batch has neither attentionMask nor inputIds (the language-modeling prepareModelInputsFn reads them to find the tokens to keep); received ${describe(inputs)}`,
    );
  }
  const [rows, columns] = reference.shape as [number, number];
  const keep = attentionMask
    ? Array.from(attentionMask.toArray() as ArrayLike<number | bigint | boolean>, (v) => Number(v) !== 0)
    : new Array<boolean>(rows * columns).fill(true);
  const labels = eva.useLabelMask ? matrixField(inputs, 'labels') : undefined;
  if (labels) {
    if (labels.shape[0] !== rows || labels.shape[1] !== columns) {
      throw new EvaError(
        `[eva] labels has shape [${labels.shape.join(', ')}] but the attention mask / input ids have [${rows}, ${columns}]`,
      );
    }
    const values = labels.toArray() as ArrayLike<number | bigint>;
    for (let i = 0; i < keep.length; i++) if (Number(values[i]) === eva.labelMaskValue) keep[i] = false;
  }
  const positions: bigint[] = [];
  for (let i = 0; i < keep.length; i++) {
    if (keep[i]) positions.push(BigInt(Math.floor(i / columns)), BigInt(i % columns));
  }
  return tensor(BigInt64Array.from(positions), {
    shape: [positions.length / 2, 2],
    dtype: 'int64',
    backend: reference.backend.name,
  });
};

function firstTensor(layerInput: unknown, layerName: string): Tensor {
  const value = Array.isArray(layerInput) ? layerInput[0] : layerInput;
  if (!(value instanceof Tensor)) {
    throw new EvaError(
      `[eva] unsupported input type (${describe(value)}) for prepare_layer_inputs_fn in layer ${layerName}, please provide a custom prepareLayerInputsFn`,
    );
  }
  return value;
}

/**
 * PEFT's `prepare_layer_inputs_fn_language_modeling`: the layer input's rows at the positions
 * {@link prepareModelInputsFnLanguageModeling} kept, as [N, features].
 */
export const prepareLayerInputsFnLanguageModeling: PrepareLayerInputsFn = (
  layerInput,
  modelInput,
  layerName,
) => {
  const x = firstTensor(layerInput, layerName);
  if (!(modelInput instanceof Tensor) || modelInput.rank !== 2 || modelInput.shape[1] !== 2) {
    throw new EvaError(
      `[eva] the language-modeling prepareLayerInputsFn needs the [N, 2] token positions that prepareModelInputsFnLanguageModeling returns, received ${describe(modelInput)} (with prepareModelInputsFn: null, also pass prepareLayerInputsFn: null to use every position)`,
    );
  }
  if (x.rank !== 3) {
    throw new EvaError(
      `[eva] layer ${layerName} received an input of shape [${x.shape.join(', ')}]; the language-modeling prepareLayerInputsFn expects [batch, sequence, features] (pass a custom prepareLayerInputsFn)`,
    );
  }
  const [, sequence, features] = x.shape as [number, number, number];
  const flat = modelInput.select(1, 0).mul(sequence).add(modelInput.select(1, 1));
  return x.reshape([-1, features]).indexSelect(0, flat);
};

/** PEFT's generic default (`prepare_layer_inputs_fn=None`): every position, leading dimensions flattened. */
export const prepareLayerInputsFnDefault: PrepareLayerInputsFn = (layerInput, _modelInput, layerName) => {
  const x = firstTensor(layerInput, layerName);
  return x.rank > 2 ? x.reshape([-1, x.shape[x.rank - 1]!]) : x;
};
