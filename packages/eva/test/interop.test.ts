import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findReferencePython } from '@lorakit/bench-tools';
import { getPeftModel, type LoraLinear, saveAdapter } from '@lorakit/lora';
import { afterAll, describe, expect, it } from 'vitest';
import { getEvaStateDict, initializeLoraEvaWeights, saveEvaStateDict } from '../src/index.js';
import { initEvaBatches, initEvaConfig, initEvaDir, loadInitEvaModel } from './fixture.js';

// Files lorakit writes, read by PEFT 0.21: the EVA state dict (safetensors.torch.load_file, then
// initialize_lora_eva_weights(eva_state_dict=…)) and the initialized adapter (PeftModel.from_pretrained).
const reference = findReferencePython(['torch', 'transformers', 'peft', 'safetensors']);
const work = mkdtempSync(join(tmpdir(), 'eva-interop-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SCRIPT = `
import json, sys, warnings
import torch
from peft import EvaConfig, LoraConfig, PeftModel, get_peft_model, initialize_lora_eva_weights
from safetensors.torch import load_file
from transformers import LlamaForCausalLM
warnings.filterwarnings("ignore")
base, state_path, adapter_dir = sys.argv[1:4]
state = load_file(state_path)
model = LlamaForCausalLM.from_pretrained(base)
config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj", "up_proj", "down_proj"],
                    init_lora_weights="eva", eva_config=EvaConfig(rho=2.0, tau=0.99))
peft_model = get_peft_model(model, config, low_cpu_mem_usage=True)
initialize_lora_eva_weights(peft_model, eva_state_dict=state, show_progress_bar=False)
loaded = PeftModel.from_pretrained(LlamaForCausalLM.from_pretrained(base), adapter_dir)
out = {"rank_pattern": peft_model.peft_config["default"].rank_pattern, "max_error": 0.0}
for name, module in peft_model.named_modules():
    if hasattr(module, "lora_A") and "default" in module.lora_A:
        a = module.lora_A["default"].weight
        b = loaded.get_submodule(name).lora_A["default"].weight
        out["max_error"] = max(out["max_error"], (a - b).abs().max().item())
print(json.dumps(out))
`;

describe.skipIf(!reference.python)('PEFT reads what lorakit writes', () => {
  it('an EVA state dict file and the initialized adapter', async () => {
    const peft = getPeftModel(await loadInitEvaModel(), initEvaConfig());
    const stateDict = await getEvaStateDict(peft, initEvaBatches(), { log: () => {} });
    await saveEvaStateDict(stateDict, join(work, 'eva.safetensors'));
    await initializeLoraEvaWeights(peft, stateDict);
    await saveAdapter(peft, join(work, 'adapter'));
    const run = spawnSync(
      reference.python!,
      ['-c', SCRIPT, join(initEvaDir, 'base'), join(work, 'eva.safetensors'), join(work, 'adapter')],
      { encoding: 'utf8' },
    );
    if (run.status !== 0) throw new Error(`PEFT failed:\n${run.stderr}`);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    expect(result.rank_pattern).toEqual(peft.peftConfig.get('default')!.rankPattern);
    // PEFT copies the float64 components into float32 lora_A, as lorakit does: equal bit for bit.
    expect(result.max_error).toBe(0);
    const layer = new Map(peft.loraLayers()).get('model.layers.0.self_attn.o_proj') as LoraLinear;
    expect(layer.r.get('default')).toBe(6);
  });
});
