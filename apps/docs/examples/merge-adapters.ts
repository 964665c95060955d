import '@lorakit/merge-strategies'; // registers every add_weighted_adapter combination type
import { loadAdapter } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';

/** Two adapters on one model, combined into new adapters with add_weighted_adapter's types. */
export async function mergeAdapters(modelDir: string, adapterA: string, adapterB: string) {
  const peft = loadAdapter(await loadModel(modelDir), adapterA, { adapterName: 'a' });
  loadAdapter(peft, adapterB, { adapterName: 'b' });

  // PEFT: model.add_weighted_adapter(["a", "b"], [0.7, 0.3], "ab_ties", combination_type="ties", density=0.5)
  peft.addWeightedAdapter(['a', 'b'], [0.7, 0.3], 'ab_ties', 'ties', { density: 0.5 });
  // cat is exact: rank r_a + r_b, B·A = 1·ΔW_a + 1·ΔW_b
  peft.addWeightedAdapter(['a', 'b'], [1, 1], 'ab_cat', 'cat');
  // svd: the best rank-4 approximation of 0.5·ΔW_a + 0.5·ΔW_b
  const svdConfig = peft.addWeightedAdapter(['a', 'b'], [0.5, 0.5], 'ab_svd', 'svd', { svdRank: 4 });
  console.log(svdConfig?.r); // 4

  peft.setAdapter('ab_cat'); // the active adapter from now on
  return peft;
}
