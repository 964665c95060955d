"""EVA reference cases beyond the shared init_eva fixture, from PEFT 0.21's own EVA.

Run from the repository root with the reference stack (torch, transformers, peft, safetensors):

    .venv-ref/bin/python packages/eva/test-data/make_eva_references.py

Uses the init_eva fixture's tiny Llama (`../shared/fixtures/peft/init_eva/base`, or `fixtures/peft/...`)
and its six calibration batches. For each case C it writes `C.<module>` (PEFT's EVA components, keys with
`base_model.model.`) to `eva-extra.safetensors`, and to `eva-extra.json` the case's options, the ranks in
PEFT's order, and the rank_pattern / alpha_pattern / target_modules PEFT writes after
`initialize_lora_eva_weights`.
"""

import json
import os

import torch
import transformers
from peft import EvaConfig, LoraConfig, get_eva_state_dict, get_peft_model, initialize_lora_eva_weights
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
torch.set_grad_enabled(False)

for candidate in (os.path.join(ROOT, "..", "shared", "fixtures", "peft"), os.path.join(ROOT, "fixtures", "peft")):
    if os.path.exists(os.path.join(candidate, "init_eva", "case.json")):
        FIXTURE = os.path.join(candidate, "init_eva")
        break
io = load_file(os.path.join(FIXTURE, "io.safetensors"))
BATCHES = [
    {"input_ids": io[f"batch{i}.input_ids"], "attention_mask": io[f"batch{i}.attention_mask"],
     "labels": io[f"batch{i}.labels"]}
    for i in range(6)
]

CASES = {
    # every linear layer: q/k/v and gate/up share inputs; a large rho lets layers drop to rank 0
    "all_linear_rho4": dict(lora=dict(r=2, lora_alpha=4, target_modules="all-linear"),
                            eva=dict(rho=4.0, tau=0.99)),
    # whitening with shared inputs (PEFT whitens the shared rows once per layer of the group)
    "whiten": dict(lora=dict(r=2, lora_alpha=2, target_modules=["q_proj", "k_proj", "o_proj", "down_proj"]),
                   eva=dict(rho=2.0, tau=0.95, whiten=True)),
    # no redistribution, no label mask, rank_pattern and alpha_pattern, fixed scaling factors
    "rho1_patterns": dict(lora=dict(r=3, lora_alpha=6, target_modules=["v_proj", "up_proj"],
                                    rank_pattern={"up_proj": 2}, alpha_pattern={"v_proj": 5}),
                          eva=dict(rho=1.0, tau=0.9, use_label_mask=False, adjust_scaling_factors=False)),
    # the generic prepare functions (every position, no masks)
    "generic_prepare": dict(lora=dict(r=2, lora_alpha=8, target_modules=["q_proj", "down_proj"]),
                            eva=dict(rho=3.0, tau=0.99), generic=True),
}

tensors = {}
meta = {}
for name, case in CASES.items():
    model = transformers.LlamaForCausalLM.from_pretrained(os.path.join(FIXTURE, "base")).eval()
    config = LoraConfig(init_lora_weights="eva", eva_config=EvaConfig(**case["eva"]), **case["lora"])
    peft_model = get_peft_model(model, config, low_cpu_mem_usage=True)
    kwargs = dict(show_progress_bar=False)
    if case.get("generic"):
        kwargs.update(prepare_model_inputs_fn=None, prepare_layer_inputs_fn=None)
    state_dict = get_eva_state_dict(peft_model, BATCHES, **kwargs)
    for key, value in state_dict.items():
        tensors[f"{name}.{key}"] = value.detach().clone().contiguous()
    initialize_lora_eva_weights(peft_model, eva_state_dict=dict(state_dict), show_progress_bar=False)
    adapter = peft_model.peft_config["default"]
    meta[name] = {
        "lora": case["lora"],
        "eva": case["eva"],
        "generic": bool(case.get("generic")),
        "ranks": [[key, int(value.shape[0])] for key, value in state_dict.items()],
        "rank_pattern": adapter.rank_pattern,
        "alpha_pattern": adapter.alpha_pattern,
        "target_modules": sorted(adapter.target_modules),
    }

save_file(tensors, os.path.join(HERE, "eva-extra.safetensors"))
with open(os.path.join(HERE, "eva-extra.json"), "w") as f:
    json.dump({"versions": {"torch": torch.__version__, "peft": __import__("peft").__version__}, "cases": meta},
              f, indent=2)
    f.write("\n")
