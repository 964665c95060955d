import { evaConfig, initializeLoraEvaWeights } from '@lorakit/eva'; // registers init_lora_weights: 'eva'
import { getPeftModel, LoraConfig } from '@lorakit/lora';
import { loadModel, loadTokenizer } from '@lorakit/models';

/** EVA: lora_A from the principal components of each layer's inputs on your data; ranks move to where they explain most. */
export async function evaInit(modelDir: string, calibrationTexts: readonly string[]) {
  const model = await loadModel(modelDir);
  const tokenizer = await loadTokenizer(modelDir);
  // Calibration batches: samples of the fine-tuning data. Padding is left out of the statistics.
  const batches = [];
  for (let i = 0; i < calibrationTexts.length; i += 4) {
    const { inputIds, attentionMask } = tokenizer.encodeBatch(calibrationTexts.slice(i, i + 4));
    batches.push({ inputIds, attentionMask, labels: inputIds });
  }
  const peft = getPeftModel(
    model,
    new LoraConfig({
      r: 4,
      targetModules: ['q_proj', 'v_proj'],
      initLoraWeights: 'eva',
      evaConfig: evaConfig({ rho: 2, tau: 0.99 }), // a layer may get up to rho·r; stop at 99 % similarity
    }),
  );
  const { ranks } = await initializeLoraEvaWeights(peft, batches);
  console.log(ranks); // Map { 'model.layers.0.self_attn.q_proj' => …, … }: the ranks sum to r × 4 layers
  return { peft, ranks };
}
