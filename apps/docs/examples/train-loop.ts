import { getPeftModel, LoraConfig, saveAdapter } from '@lorakit/lora';
import { loadModel, loadTokenizer } from '@lorakit/models';
import { AdamW, clipGradNorm } from '@lorakit/nn';
import { manualSeed, noGrad, type Tensor, tensor, tidy } from '@lorakit/tensor';

interface Example {
  readonly prompt: string;
  readonly completion: string;
}

/** A hand-written training loop on prompt/completion pairs: the loss is taken on the completion only. */
export async function trainLoop(modelDir: string, train: Example[], heldOut: Example[], adapterDir: string) {
  manualSeed(0); // LoRA's A init and dropout draw from lorakit's seeded generator
  const tokenizer = await loadTokenizer(modelDir);
  const peft = getPeftModel(
    await loadModel(modelDir),
    new LoraConfig({ r: 16, loraAlpha: 16, targetModules: 'all-linear', loraDropout: 0.05 }),
  );
  const eos = tokenizer.eosTokenId ?? 0;

  // Prompt tokens get label -100: transformers' convention, and lorakit's causal-LM loss skips them.
  const batchOf = (examples: Example[]) => {
    const rows = examples.map(({ prompt, completion }) => {
      const promptIds = tokenizer.encode(prompt);
      const completionIds = [...tokenizer.encode(completion, { addSpecialTokens: false }), eos];
      return {
        ids: [...promptIds, ...completionIds],
        labels: [...promptIds.map(() => -100), ...completionIds],
      };
    });
    const longest = Math.max(...rows.map((row) => row.ids.length));
    const pad = (values: number[], fill: number) => [...values, ...Array(longest - values.length).fill(fill)];
    return {
      inputIds: tensor(
        rows.map((row) => pad(row.ids, eos)),
        { dtype: 'int64' },
      ),
      labels: tensor(
        rows.map((row) => pad(row.labels, -100)),
        { dtype: 'int64' },
      ),
    };
  };
  const lossOf = (examples: Example[]) => (peft.call(batchOf(examples)) as { loss: Tensor }).loss;
  const evalLoss = () => {
    peft.eval();
    const loss = noGrad(() => lossOf(heldOut).item());
    peft.train();
    return loss;
  };

  const optimizer = new AdamW(
    peft.parameters().filter((p) => p.requiresGrad),
    { lr: 5e-3 },
  );
  const before = evalLoss();
  peft.train();
  for (let step = 0; step < 20; step++) {
    const start = (step * 8) % train.length;
    // tidy() disposes the step's activations as soon as it ends; gradients and AdamW state are kept.
    tidy(() => {
      optimizer.zeroGrad();
      lossOf(train.slice(start, start + 8)).backward();
      clipGradNorm(optimizer.parameters(), 1.0);
      optimizer.step();
    });
  }
  const after = evalLoss();
  console.log(`held-out loss ${before.toFixed(3)} → ${after.toFixed(3)}`);
  await saveAdapter(peft, adapterDir);
  return { before, after };
}
