import { saveConvertedAdapter } from '@lorakit/inits-svd'; // registers pissa, pissa_niter_N, olora, corda, orthogonal
import { getPeftModel, LoraConfig, saveAdapter } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import { AdamW } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';

/**
 * PiSSA: the adapter starts as the top-r singular components of each weight and the base keeps the rest.
 * After training, the adapter is converted into a plain LoRA adapter for the original, unmodified model.
 */
export async function pissaThenConvert(
  modelDir: string,
  batch: { inputIds: Tensor; labels: Tensor },
  outDir: string,
) {
  const peft = getPeftModel(
    await loadModel(modelDir),
    new LoraConfig({ r: 4, loraAlpha: 4, targetModules: ['q_proj', 'v_proj'], initLoraWeights: 'pissa' }),
  );
  await saveAdapter(peft, `${outDir}/pissa-init`); // A₀, B₀ right after initialization, before training

  const optimizer = new AdamW(
    peft.parameters().filter((p) => p.requiresGrad),
    { lr: 1e-3 },
  );
  for (let step = 0; step < 5; step++) {
    optimizer.zeroGrad();
    (peft.call(batch) as { loss: Tensor }).loss.backward();
    optimizer.step();
  }

  // The trained PiSSA adapter only fits its residual base; as plain LoRA (rank 2r) it fits the original.
  await saveConvertedAdapter(peft, `${outDir}/pissa-as-lora`, `${outDir}/pissa-init`);
  return peft;
}
