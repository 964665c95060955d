import { loadAdapter, readAdapterConfig, saveAdapter } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import type { Tensor } from '@lorakit/tensor';

/** An adapter trained in Python PEFT, used in Node, and written back in PEFT's format. */
export async function fromPeftAndBack(
  baseDir: string,
  peftAdapterDir: string,
  inputIds: Tensor,
  outDir: string,
) {
  // adapter_config.json as PEFT wrote it, in camelCase: a LoraConfig.
  const config = readAdapterConfig(peftAdapterDir);
  console.log(config.r, config.loraAlpha, config.targetModules); // 8 16 Set { 'q_proj', 'v_proj' }

  // PeftModel.from_pretrained(model, dir): strict — missing or unexpected keys and shape mismatches are one error.
  const peft = loadAdapter(await loadModel(baseDir), peftAdapterDir);
  peft.eval();
  const { logits } = peft.call({ inputIds }) as { logits: Tensor }; // PEFT's logits, to float32 rounding

  // save_pretrained(dir): the same keys (base_model.model.….lora_A.weight), dtypes and config keys.
  await saveAdapter(peft, outDir);
  return logits;
}
