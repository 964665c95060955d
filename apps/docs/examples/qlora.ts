import { loadQuantizedModel, prepareModelForKbitTraining } from '@lorakit/loftq'; // also registers 'loftq'
import { getPeftModel, LoraConfig, saveAdapter } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import { AdamW } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';

/** QLoRA: LoRA trained on a 4-bit NF4 base (bitsandbytes' format, bit for bit). */
export async function qlora(
  modelDir: string,
  batch: { inputIds: Tensor; labels: Tensor },
  adapterDir: string,
) {
  // transformers: from_pretrained(dir, load_in_4bit=True, bnb_4bit_quant_type="nf4") — every Linear but lm_head.
  // loftq loads no model itself: pass the loader (and its options).
  const model = await loadQuantizedModel(modelDir, { quantize: '4bit', load: loadModel });
  prepareModelForKbitTraining(model); // freeze the base; half-precision norms and embeddings → float32

  const peft = getPeftModel(
    model,
    new LoraConfig({ r: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'] }),
  );
  const optimizer = new AdamW(
    peft.parameters().filter((p) => p.requiresGrad),
    { lr: 1e-2 },
  );
  const losses: number[] = [];
  for (let step = 0; step < 10; step++) {
    optimizer.zeroGrad();
    const { loss } = peft.call(batch) as { loss: Tensor };
    loss.backward();
    optimizer.step();
    losses.push(loss.item());
  }
  await saveAdapter(peft, adapterDir); // a plain PEFT adapter: loads on the float or the 4-bit base
  return losses;
}

/** LoftQ: the adapter starts by correcting the 4-bit quantization error of each targeted weight. */
export async function loftq(modelDir: string) {
  const model4bit = await loadQuantizedModel(modelDir, { quantize: '4bit', load: loadModel });
  // LoftQ re-reads each original weight from the checkpoint and alternates with the layer's own NF4 format.
  return getPeftModel(
    model4bit,
    new LoraConfig({
      r: 8,
      loraAlpha: 8, // LoftQ ignores the scaling, as in PEFT: keep lora_alpha = r
      targetModules: ['q_proj', 'v_proj'],
      initLoraWeights: 'loftq',
      loftqConfig: { loftq_bits: 4, loftq_iter: 2 },
    }),
  );
}
