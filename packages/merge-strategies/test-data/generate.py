"""Reference merges from PEFT 0.21 for the layer kinds the `merges` fixture does not cover.

Run with the reference stack from the repository root:
    PYTHONHASHSEED=0 .venv-ref/bin/python packages/merge-strategies/test-data/generate.py

Writes, per case (`mixed`: Embedding, Linear, Conv2d 3x3, Conv2d 1x1; `conv1d_gpt2`: GPT-2 Conv1D with
fan_in_fan_out), the adapters a (r=4, alpha=8), b (r=4, alpha=16), c (r=6, alpha=6) under
<case>/adapter/{a,b,c}, and <case>/expected.safetensors holding `TAG.MODULE.lora_A`, `.lora_B` and `.delta`
(get_delta_weight of the merged adapter) for every deterministic tag in case.json.
"""

import json
import os

import peft
import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers.pytorch_utils import Conv1D

OUT = os.path.dirname(os.path.abspath(__file__))

SPECS = [
    ("linear", ["a", "b"], [0.7, -0.5], "linear", {}),
    ("cat", ["a", "c"], [0.7, 0.5], "cat", {}),
    ("svd", ["a", "c"], [0.7, -0.5], "svd", {}),
    ("svd_rank3", ["a", "b", "c"], [1.0, 0.5, 0.25], "svd", {"svd_rank": 3}),
    ("ties", ["a", "b"], [0.7, 0.5], "ties", {"density": 0.5}),
    ("ties_svd", ["a", "c"], [0.7, 0.5], "ties_svd", {"density": 0.4}),
    ("magnitude_prune", ["a", "b"], [0.7, -0.5], "magnitude_prune", {"density": 0.3}),
    ("magnitude_prune_svd", ["a", "c"], [0.7, 0.5], "magnitude_prune_svd", {"density": 0.3}),
]


class Mixed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(50, 16)
        self.lin = torch.nn.Linear(16, 12)
        self.conv2d = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.conv2d_1x1 = torch.nn.Conv2d(8, 10, 1)


class Gpt2Like(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = Conv1D(24, 16)  # weight [16, 24]: stored [in, out]
        self.c_proj = Conv1D(16, 8)


CASES = {
    "mixed": (Mixed, ["emb", "lin", "conv2d", "conv2d_1x1"], False),
    "conv1d_gpt2": (Gpt2Like, ["c_attn", "c_proj"], True),
}


def lora_layers(model):
    from peft.tuners.lora import LoraLayer

    return {n.replace("base_model.model.", ""): m for n, m in model.named_modules() if isinstance(m, LoraLayer)}


def build(case):
    cls, targets, fan_in_fan_out = CASES[case]
    torch.manual_seed(70)
    model = cls()
    common = dict(target_modules=targets, init_lora_weights=False, fan_in_fan_out=fan_in_fan_out)
    pm = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, **common), adapter_name="a")
    pm.add_adapter("b", LoraConfig(r=4, lora_alpha=16, **common))
    pm.add_adapter("c", LoraConfig(r=6, lora_alpha=6, **common))
    # Every factor random and non-zero (embedding inits leave A or B zero).
    torch.manual_seed(71)
    with torch.no_grad():
        for name, p in pm.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn_like(p) * 0.5)
    return pm


def primitives():
    """merge_utils on random task tensors (incl. exact zeros and ties), for the primitive tests."""
    from peft.utils import merge_utils as mu

    torch.manual_seed(80)
    t = [torch.randn(7, 9), torch.randn(7, 9), torch.randn(7, 9)]
    t[0][0, :3] = 0.0  # zeros never agree with an elected sign
    t[1][1, :] = t[0][1, :].abs()  # equal magnitudes across tensors
    w = torch.tensor([0.7, -0.4, 1.3])
    out = {f"t{i}": x for i, x in enumerate(t)}
    for d in (0.0, 0.3, 0.5, 0.95):
        out[f"magnitude_based_pruning.{d}"] = mu.magnitude_based_pruning(t[0], d)
    stacked = torch.stack([mu.prune(x, 0.5, "magnitude") for x in t])
    for method in ("total", "frequency"):
        mask = mu.calculate_majority_sign_mask(stacked, method)
        out[f"majority_sign_mask.{method}"] = mask.to(torch.float32)
        out[f"disjoint_merge.{method}"] = mu.disjoint_merge(stacked * w.view(3, 1, 1), mask)
        out[f"ties.{method}"] = mu.ties(t, w, 0.5, method)
    out["task_arithmetic"] = mu.task_arithmetic(t, w)
    out["magnitude_prune"] = mu.magnitude_prune(t, w, 0.3)
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(OUT, "merge_utils.safetensors"))
    print("ok merge_utils", len(out), "tensors")


def main():
    primitives()
    for case in CASES:
        d = os.path.join(OUT, case)
        os.makedirs(d, exist_ok=True)
        pm = build(case)
        pm.save_pretrained(os.path.join(d, "adapter"))
        for name in ("a", "b", "c", ""):
            card = os.path.join(d, "adapter", name, "README.md")
            if os.path.exists(card):
                os.remove(card)
        tensors, meta = {}, {}
        for tag, adapters, weights, ctype, kw in SPECS:
            new = f"m_{tag}"
            pm.add_weighted_adapter(adapters, weights, new, combination_type=ctype, **kw)
            c = pm.peft_config[new]
            meta[tag] = {"adapters": adapters, "weights": weights, "combination_type": ctype, "kwargs": kw,
                         "r": c.r, "lora_alpha": c.lora_alpha}
            for name, layer in lora_layers(pm).items():
                if new in layer.lora_A:
                    a, b = layer.lora_A[new].weight, layer.lora_B[new].weight
                elif new in layer.lora_embedding_A:
                    a, b = layer.lora_embedding_A[new], layer.lora_embedding_B[new]
                else:
                    continue
                tensors[f"{tag}.{name}.lora_A"] = a.detach().clone().contiguous()
                tensors[f"{tag}.{name}.lora_B"] = b.detach().clone().contiguous()
                tensors[f"{tag}.{name}.delta"] = layer.get_delta_weight(new).detach().clone().contiguous()
        save_file(tensors, os.path.join(d, "expected.safetensors"))
        with open(os.path.join(d, "case.json"), "w") as f:
            json.dump({"merges": meta, "versions": {"torch": torch.__version__, "peft": peft.__version__}}, f, indent=2)
        print("ok", case, len(tensors), "tensors")


if __name__ == "__main__":
    main()
