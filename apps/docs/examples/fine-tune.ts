import { getPeftModel, LoraConfig, loadAdapter, saveAdapter } from '@lorakit/lora';
import { generate, loadModel, loadTokenizer } from '@lorakit/models';
import { AdamW, createLrScheduler, train } from '@lorakit/nn';
import { type Tensor, tensor } from '@lorakit/tensor';

/**
 * LoRA fine-tuning of your own Hugging Face model folder (config.json, model.safetensors and
 * tokenizer.json), then the adapter saved in PEFT's format, loaded again and used to generate.
 */
export async function fineTune(
  modelDir: string,
  texts: readonly string[],
  adapterDir: string,
  prompt: string,
) {
  const model = await loadModel(modelDir);
  const tokenizer = await loadTokenizer(modelDir);

  // PEFT: get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"]))
  const config = new LoraConfig({ r: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'] });
  const peft = getPeftModel(model, config);
  console.log(peft.trainableParametersSummary());

  // One batch per 4 texts, right-padded; padding gets label -100 (no loss), as in transformers.
  const eos = tokenizer.eosTokenId ?? 0;
  const batches = [];
  for (let i = 0; i < texts.length; i += 4) {
    const rows = texts.slice(i, i + 4).map((text) => [...tokenizer.encode(text), eos]);
    const longest = Math.max(...rows.map((row) => row.length));
    const ids = rows.map((row) => [...row, ...Array(longest - row.length).fill(eos)]);
    const labels = rows.map((row) => [...row, ...Array(longest - row.length).fill(-100)]);
    batches.push({ inputIds: tensor(ids, { dtype: 'int64' }), labels: tensor(labels, { dtype: 'int64' }) });
  }

  const optimizer = new AdamW(
    peft.parameters().filter((p) => p.requiresGrad),
    { lr: 1e-2 },
  );
  const steps = 30;
  const losses: number[] = [];
  const result = await train({
    model: peft,
    data: batches,
    computeLoss: (batch) => (peft.call(batch) as { loss: Tensor }).loss,
    optimizer,
    scheduler: createLrScheduler('linear', optimizer, { numWarmupSteps: 0, numTrainingSteps: steps }),
    maxSteps: steps,
    tidy: true, // recycle each step's activations at once
    callbacks: { onStep: ({ loss }) => void losses.push(loss) },
  });
  console.log(`loss after ${result.step} steps: ${losses.at(-1)?.toFixed(3)}`);

  await saveAdapter(peft, adapterDir); // adapter_config.json + adapter_model.safetensors

  // Later, or in Python PEFT: the base model plus the adapter folder.
  // loadAdapter injects the LoRA layers into the model it is given, so `generate` uses them.
  const base = await loadModel(modelDir);
  loadAdapter(base, adapterDir);
  base.eval();
  const inputIds = tensor([tokenizer.encode(prompt)], { dtype: 'int64' });
  const output = generate(base, inputIds, { maxNewTokens: 6 });
  const completion = tokenizer.decode((output.toList() as number[][])[0]!, { skipSpecialTokens: true });
  return { losses, completion };
}
