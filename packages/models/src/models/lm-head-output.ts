import { type AnyModule, Linear } from '@lorakit/nn';
import { enableGrad, isGradEnabled, noGrad, type Tensor } from '@lorakit/tensor';
import { ModelError } from '../errors.js';
import { lmHeadLoss } from '../losses.js';

/** What {@link lmHeadOutput} needs to know about one call of a model's LM head. */
export interface LmHeadCall {
  /** The model's class name, for error messages. */
  readonly architecture: string;
  /** The module registered as `lm_head` now (a LoRA layer or wrapper once PEFT replaced it). */
  readonly head: AnyModule;
  /** What the head is called on: [batch, length, features]. */
  readonly hidden: Tensor;
  readonly labels: Tensor | undefined;
  /** Causal LMs: position t predicts labels[t + 1]. */
  readonly shift: boolean;
  /** The logits from the head's output (identity, or Gemma 2's soft cap). */
  readonly finalLogits: (headOutput: Tensor) => Tensor;
  /**
   * The soft cap `finalLogits` applies (null: none), or `false` when `finalLogits` does something the
   * chunked loss does not know (a subclass override): then the loss is taken on materialized logits.
   */
  readonly softcap: number | null | false;
  readonly numItemsInBatch?: number | undefined;
  /** Rows of logits per chunk of the loss (undefined: linearCrossEntropy's default). */
  readonly chunkRows?: number | undefined;
  /** The loss on materialized logits (the path for heads the chunked loss must not bypass). */
  readonly composedLoss: (logits: Tensor, labels: Tensor) => Tensor;
}

/**
 * The weight and bias of an LM head the chunked loss may read directly: a plain `Linear` without
 * forward hooks. A LoRA layer on `lm_head`, a `modules_to_save` or trainable-tokens wrapper, or a hook
 * must see the call, so those heads get the loss on materialized logits.
 */
export function plainLinearHead(head: AnyModule): { weight: Tensor; bias: Tensor | null } | null {
  if (Object.getPrototypeOf(head) !== Linear.prototype || head.hasForwardHooks) return null;
  const linear = head as Linear;
  return { weight: linear.weight, bias: linear.bias };
}

/**
 * `rest` with the LM head's `logits` and, with labels, the `loss`. Without labels, or when the head is
 * not a plain `Linear` (see {@link plainLinearHead}), the logits are computed and the loss taken on them
 * as before. Otherwise the loss comes from the hidden states and the head's weight in chunks (never the
 * [batch·length, vocab] logits, which in float32 are 4.6 GiB for batch 8 × 1024 and Qwen2's 151,936
 * tokens), and `logits` is computed on first read, from the same hidden states, with gradients recorded
 * when they were at the call: training that only reads the loss never makes them. Reading them after
 * the head's weights changed in place (an optimizer step) throws, since they would no longer be this
 * call's logits.
 */
export function lmHeadOutput<T extends object>(
  call: LmHeadCall,
  rest: T,
): T & { logits: Tensor; loss?: Tensor } {
  const { head, hidden, labels } = call;
  const logitsNow = () => call.finalLogits(head.call(hidden) as Tensor);
  if (!labels) return { ...rest, logits: logitsNow() };
  checkLabels(call, labels);
  const direct = call.softcap === false ? null : plainLinearHead(head);
  if (!direct || call.softcap === false) {
    const logits = logitsNow();
    return { ...rest, logits, loss: call.composedLoss(logits, labels) };
  }
  const loss = lmHeadLoss(hidden, direct.weight, direct.bias, labels, {
    shift: call.shift,
    softcap: call.softcap,
    numItemsInBatch: call.numItemsInBatch,
    chunkRows: call.chunkRows,
  });
  const output = { ...rest, loss } as T & { logits: Tensor; loss: Tensor };
  const watched = [direct.weight, ...(direct.bias ? [direct.bias] : [])];
  const versions = watched.map((t) => t.version);
  const recording = isGradEnabled();
  let logits: Tensor | undefined;
  Object.defineProperty(output, 'logits', {
    enumerable: true,
    configurable: true,
    get(): Tensor {
      if (!logits) {
        if (watched.some((t, i) => t.version !== versions[i])) {
          throw new ModelError(
            `[${call.architecture}] logits were read after lm_head's weights changed in place (e.g. an optimizer step); the loss of a labelled call does not make them, so read output.logits before updating the weights`,
          );
        }
        logits = recording ? enableGrad(logitsNow) : noGrad(logitsNow);
      }
      return logits;
    },
  });
  return output;
}

function checkLabels(call: LmHeadCall, labels: Tensor): void {
  const [batch, length] = call.hidden.shape as [number, number];
  if (labels.dtype !== 'int64' && labels.dtype !== 'int32') {
    throw new ModelError(
      `[${call.architecture}] labels must hold token ids (int64 or int32), received ${labels.dtype}`,
    );
  }
  if (labels.rank !== 2 || labels.shape[0] !== batch || labels.shape[1] !== length) {
    throw new ModelError(
      `[${call.architecture}] labels must be [${batch}, ${length}] (one per position of the LM head's input), received [${labels.shape.join(', ')}]`,
    );
  }
  const n = call.numItemsInBatch;
  if (n !== undefined && (typeof n !== 'number' || !(n > 0))) {
    throw new ModelError(
      `[${call.architecture}] numItemsInBatch must be a positive number, received ${String(n)}`,
    );
  }
}
