"""Loads a base checkpoint and a PEFT adapter folder with Python PEFT and writes the logits.

usage: peft_logits.py BASE_DIR ADAPTER_DIR INPUTS.safetensors OUT.safetensors [ADAPTER_NAME]
The interop test (src/interop.test.ts) runs this with the reference Python stack.
"""
import sys

import torch
import transformers
from peft import PeftModel
from safetensors.torch import load_file, save_file

base_dir, adapter_dir, inputs_path, out_path = sys.argv[1:5]
config = transformers.AutoConfig.from_pretrained(base_dir)
arch = config.architectures[0]
model = getattr(transformers, arch).from_pretrained(base_dir).eval()
peft_model = PeftModel.from_pretrained(model, adapter_dir).eval()
inputs = load_file(inputs_path)
kwargs = {"input_ids": inputs["input_ids"]}
if "attention_mask" in inputs:
    kwargs["attention_mask"] = inputs["attention_mask"]
with torch.no_grad():
    logits = peft_model(**kwargs).logits
save_file({"logits": logits.contiguous()}, out_path)
