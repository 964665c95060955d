"""Makes a PEFT adapter on a base checkpoint, perturbs every trainable tensor, saves it and its logits.

usage: peft_save_adapter.py BASE_DIR CONFIG.json INPUTS.safetensors OUT_DIR
CONFIG.json holds LoraConfig keyword arguments (PEFT's names), and "perturb_embeddings": true to change
the base's embeddings that target_modules names too (as a resized or trained vocabulary does). Writes
OUT_DIR/adapter (save_pretrained) and OUT_DIR/logits.safetensors. The interop test
(src/interop.test.ts) runs this with the reference Python stack.
"""
import json
import sys

import torch
import transformers
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file, save_file

base_dir, config_path, inputs_path, out_dir = sys.argv[1:5]
torch.manual_seed(0)
config = transformers.AutoConfig.from_pretrained(base_dir)
arch = config.architectures[0]
model = getattr(transformers, arch).from_pretrained(base_dir).eval()
with open(config_path) as f:
    kwargs = json.load(f)
if kwargs.pop("perturb_embeddings", False):
    # The embeddings that target_modules names (the ones PEFT saves), each once when tied.
    names = {"embed_tokens": model.get_input_embeddings(), "lm_head": model.get_output_embeddings()}
    layers = {id(m): m for name, m in names.items() if name in kwargs["target_modules"]}
    with torch.no_grad():
        for layer in layers.values():
            layer.weight.add_(torch.randn_like(layer.weight) * 0.1)
peft_model = get_peft_model(model, LoraConfig(**kwargs))
with torch.no_grad():
    for name, p in peft_model.named_parameters():
        if p.requires_grad:
            p.add_(torch.randn_like(p) * 0.05 + 0.05)
peft_model.eval()
inputs = load_file(inputs_path)
call = {"input_ids": inputs["input_ids"]}
if "attention_mask" in inputs:
    call["attention_mask"] = inputs["attention_mask"]
with torch.no_grad():
    logits = peft_model(**call).logits
peft_model.save_pretrained(f"{out_dir}/adapter")
save_file({"logits": logits.contiguous()}, f"{out_dir}/logits.safetensors")
