import { type AnyModule, type HookHandle, Parameter } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';

export interface PrepareOptions {
  /**
   * Make the input embeddings' output require grad (PEFT does it for reentrant gradient checkpointing,
   * where the checkpointed blocks would otherwise see inputs without grad). lorakit has no activation
   * checkpointing, so nothing needs it; default false.
   */
  readonly inputRequireGrads?: boolean;
}

export interface PrepareResult {
  /** Parameters cast from float16/bfloat16 to float32 (norms, embeddings, the head, biases). */
  readonly upcast: string[];
  /** The input-grad hook, when one was registered. */
  readonly hook?: HookHandle;
}

/**
 * PEFT's `prepare_model_for_kbit_training`: freezes every base parameter, casts every non-quantized
 * float16/bfloat16 parameter (layer norms, embeddings, the LM head, biases) to float32 so that they are
 * updated and used in full precision, and optionally hooks the input embeddings so their output requires
 * grad. Quantized weights are buffers and are left as they are. Call it before `getPeftModel`.
 */
export function prepareModelForKbitTraining(model: AnyModule, options: PrepareOptions = {}): PrepareResult {
  const upcast: string[] = [];
  const replacements = new Map<Parameter, Parameter>();
  for (const [name, parameter] of model.namedParameters()) {
    parameter.requiresGrad = false;
    if (parameter.dtype === 'float16' || parameter.dtype === 'bfloat16') {
      upcast.push(name);
      replacements.set(parameter, new Parameter(parameter.detach().float(), false));
    }
  }
  // Replace every holder of a cast parameter, so tied weights (lm_head = embed_tokens) stay tied.
  for (const [, module] of model.namedModules()) {
    for (const [name, parameter] of module.ownParameters()) {
      const replacement = parameter && replacements.get(parameter);
      if (replacement) module.registerParameter(name, replacement);
    }
  }
  let hook: HookHandle | undefined;
  if (options.inputRequireGrads) {
    const path = (model as unknown as { getInputEmbeddings?: () => string }).getInputEmbeddings?.();
    if (path) {
      hook = model.getSubmodule(path).registerForwardHook((_module, _args, output) => {
        (output as Tensor).requiresGrad = true;
        return undefined;
      });
    }
  }
  return { upcast, hook };
}
