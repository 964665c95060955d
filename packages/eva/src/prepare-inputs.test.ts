import { LoraConfig } from '@lorakit/lora';
import { arange, type Tensor, tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { evaConfig } from './eva-config.js';
import {
  prepareLayerInputsFnDefault,
  prepareLayerInputsFnLanguageModeling,
  prepareModelInputsFnLanguageModeling,
} from './prepare-inputs.js';

const config = (options = {}) => new LoraConfig({ initLoraWeights: 'eva', evaConfig: evaConfig(options) });
const int64 = { dtype: 'int64' as const };

describe('language-modeling input preparation (PEFT defaults)', () => {
  const inputIds = tensor(
    [
      [5, 6, 7],
      [8, 9, 10],
    ],
    int64,
  );
  const attentionMask = tensor(
    [
      [1, 1, 0],
      [1, 1, 1],
    ],
    int64,
  );
  const labels = tensor(
    [
      [-100, 6, 7],
      [-100, -100, 10],
    ],
    int64,
  );

  it('keeps positions with attention ≠ 0 and labels ≠ label_mask_value, as (batch, position) pairs', () => {
    const positions = prepareModelInputsFnLanguageModeling(
      { inputIds, attentionMask, labels },
      config(),
    ) as Tensor;
    expect(positions.dtype).toBe('int64');
    expect(positions.toList()).toEqual([
      [0, 1],
      [1, 2],
    ]);
    const noLabelMask = prepareModelInputsFnLanguageModeling(
      { inputIds, attentionMask, labels },
      config({ useLabelMask: false }),
    );
    expect((noLabelMask as Tensor).shape).toEqual([5, 2]);
    const everything = prepareModelInputsFnLanguageModeling({ inputIds }, config());
    expect((everything as Tensor).shape).toEqual([6, 2]);
    const customValue = prepareModelInputsFnLanguageModeling(
      {
        inputIds,
        labels: tensor(
          [
            [0, 1, 0],
            [1, 1, 1],
          ],
          int64,
        ),
      },
      config({ labelMaskValue: 0 }),
    );
    expect((customValue as Tensor).toList()).toEqual([
      [0, 1],
      [1, 0],
      [1, 1],
      [1, 2],
    ]);
  });

  it('takes the layer input rows at those positions; the generic default flattens every position', () => {
    const hidden = arange(0, 2 * 3 * 4)
      .reshape([2, 3, 4])
      .float();
    const positions = prepareModelInputsFnLanguageModeling({ inputIds, attentionMask, labels }, config());
    const rows = prepareLayerInputsFnLanguageModeling([hidden], positions, 'layer');
    expect(rows.toList()).toEqual([
      [4, 5, 6, 7],
      [20, 21, 22, 23],
    ]);
    expect(prepareLayerInputsFnDefault([hidden], null, 'layer').shape).toEqual([6, 4]);
    expect(() => prepareLayerInputsFnDefault([{}], null, 'layer')).toThrow(
      '[eva] unsupported input type (an object with keys (none)) for prepare_layer_inputs_fn in layer layer, please provide a custom prepareLayerInputsFn',
    );
    expect(() => prepareLayerInputsFnLanguageModeling([hidden.select(0, 0)], positions, 'lin')).toThrow(
      '[eva] layer lin received an input of shape [3, 4]; the language-modeling prepareLayerInputsFn expects [batch, sequence, features] (pass a custom prepareLayerInputsFn)',
    );
  });

  it('names a batch field that is not a 2-D tensor', () => {
    expect(() => prepareModelInputsFnLanguageModeling({ inputIds: [[1, 2]] }, config())).toThrow(
      '[eva] batch field inputIds must be a 2-D tensor [batch, sequence], received an array of length 1',
    );
  });
});
