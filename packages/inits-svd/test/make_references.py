"""Reference data for @lorakit/inits-svd's unit tests, from NumPy and from PEFT's own functions.

Run with the reference stack (torch, transformers, peft, numpy, safetensors):
    .venv-ref/bin/python packages/inits-svd/test/make_references.py

Writes references.safetensors (tensors, float32 unless noted) and references.json (per case: the
hyper-parameters and, for CorDA, how many times PEFT inverted the damped covariance).
"""
import json
import os

import numpy as np
import peft
import torch
import torch.nn as nn
from peft import LoraConfig, get_peft_model
from peft.tuners.lora import corda as peft_corda
from peft.tuners.lora.config import CordaConfig
from safetensors.torch import save_file
from transformers.pytorch_utils import Conv1D

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_grad_enabled(False)
tensors = {}
meta = {"versions": {"torch": torch.__version__, "peft": peft.__version__, "numpy": np.__version__}, "cases": {}}


class Holder(nn.Module):
    """A model with one target module, `proj`."""

    def __init__(self, proj):
        super().__init__()
        self.proj = proj

    def forward(self, x):
        return self.proj(x)


def olora_numpy(name, shape, r, scaling, seed):
    """OLoRA from NumPy's LAPACK QR (float64), on a float32 weight."""
    w = np.random.RandomState(seed).standard_normal(shape).astype(np.float32)
    q, upper = np.linalg.qr(w.astype(np.float64))
    b, a = q[:, :r], upper[:r, :]
    tensors[f"{name}.weight"] = torch.from_numpy(w)
    tensors[f"{name}.q"] = torch.from_numpy(q.astype(np.float32))
    tensors[f"{name}.r"] = torch.from_numpy(upper.astype(np.float32))
    tensors[f"{name}.lora_A"] = torch.from_numpy(a.astype(np.float32))
    tensors[f"{name}.lora_B"] = torch.from_numpy(b.astype(np.float32))
    tensors[f"{name}.residual"] = torch.from_numpy((w - scaling * b @ a).astype(np.float32))
    meta["cases"][name] = {"r": r, "scaling": scaling}


def peft_layer_init(name, proj, r, alpha, init, **config):
    """Wraps `proj` with PEFT and records its factors, base weight after init and delta weight."""
    model = Holder(proj)
    tensors[f"{name}.weight"] = proj.weight.detach().clone()
    pm = get_peft_model(model, LoraConfig(r=r, lora_alpha=alpha, target_modules=["proj"],
                                          init_lora_weights=init, **config))
    layer = pm.base_model.model.proj
    tensors[f"{name}.lora_A"] = layer.lora_A["default"].weight.detach().clone()
    tensors[f"{name}.lora_B"] = layer.lora_B["default"].weight.detach().clone()
    tensors[f"{name}.base_after"] = layer.get_base_layer().weight.detach().clone()
    tensors[f"{name}.delta"] = layer.get_delta_weight("default").detach().clone()
    meta["cases"][name] = {"r": r, "alpha": alpha, "init": init}


def counting_inverse():
    """Wraps torch.linalg.inv to count PEFT's damping iterations (one inverse per iteration)."""
    calls = {"n": 0}
    original = torch.linalg.inv

    def inv(x):
        calls["n"] += 1
        return original(x)

    return calls, original, inv


def corda_peft(name, in_features, out_features, r, alpha, method, samples, tokens, seed):
    """PEFT's preprocess_corda on one Linear fed `samples` sequences of `tokens` tokens, then its init."""
    torch.manual_seed(seed)
    proj = nn.Linear(in_features, out_features, bias=False)
    model = Holder(proj)
    inputs = torch.randn(samples, tokens, in_features) * torch.linspace(0.2, 3.0, in_features)
    config = LoraConfig(r=r, lora_alpha=alpha, target_modules=["proj"], init_lora_weights="corda",
                        corda_config=CordaConfig(corda_method=method, prune_temporary_fields=False))
    tensors[f"{name}.weight"] = proj.weight.detach().clone()
    tensors[f"{name}.inputs"] = inputs

    def run():
        for row in inputs:
            model(row[None])

    calls, original, inv = counting_inverse()
    torch.linalg.inv = inv
    try:
        peft_corda.preprocess_corda(model, config, run_model=run)
    finally:
        torch.linalg.inv = original
    tensors[f"{name}.covariance"] = proj.covariance_matrix.clone()
    tensors[f"{name}.S"] = proj.eigens.S_WC.clone()
    tensors[f"{name}.U"] = proj.eigens.U_WC.clone()
    tensors[f"{name}.V"] = proj.eigens.V_WC.clone()
    pm = get_peft_model(model, config)
    layer = pm.base_model.model.proj
    tensors[f"{name}.lora_A"] = layer.lora_A["default"].weight.detach().clone()
    tensors[f"{name}.lora_B"] = layer.lora_B["default"].weight.detach().clone()
    tensors[f"{name}.base_after"] = layer.get_base_layer().weight.detach().clone()
    meta["cases"][name] = {"r": r, "alpha": alpha, "method": method, "samples": samples,
                           "inverses": calls["n"], "sample_count": int(proj.sample_count)}


def corda_damped(name):
    """collect_eigens_for_layer on a covariance that is nearly singular at the first damping factor."""
    n = 6
    diagonal = torch.tensor([1.0, 2.0, 1.5, 0.5, 1.0, 0.0])
    diagonal[5] = -0.01 * diagonal[:5].sum() / (n + 0.01)  # C + 0.01·mean(diag C)·I is singular up to rounding
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(3)))
    covariance = (q * diagonal) @ q.T
    covariance = (covariance + covariance.T) / 2
    proj = nn.Linear(n, 4, bias=False)
    torch.nn.init.normal_(proj.weight, generator=torch.Generator().manual_seed(4))
    proj.covariance_matrix = covariance
    calls, original, inv = counting_inverse()
    torch.linalg.inv = inv
    try:
        eigens = peft_corda.collect_eigens_for_layer(proj, None)
    finally:
        torch.linalg.inv = original
    tensors[f"{name}.weight"] = proj.weight.detach().clone()
    tensors[f"{name}.covariance"] = covariance
    tensors[f"{name}.S"] = eigens.S_WC.clone()
    tensors[f"{name}.U"] = eigens.U_WC.clone()
    tensors[f"{name}.V"] = eigens.V_WC.clone()
    meta["cases"][name] = {"inverses": calls["n"], "eigenvalues": diagonal.tolist()}


olora_numpy("olora_tall", (12, 8), 3, 2.0, 0)
olora_numpy("olora_wide", (6, 10), 4, 0.5, 1)

torch.manual_seed(10)
peft_layer_init("pissa_conv1d", Conv1D(12, 8), 3, 6, "pissa")  # stored [in=8, out=12], fan_in_fan_out
torch.manual_seed(11)
peft_layer_init("olora_conv1d_square", Conv1D(8, 8), 3, 6, "olora")  # PEFT factors the stored weight
torch.manual_seed(12)
peft_layer_init("pissa_rslora", nn.Linear(10, 9, bias=False), 4, 6, "pissa", use_rslora=True)

corda_peft("corda_ipm", 10, 7, 3, 6, "ipm", samples=4, tokens=16, seed=20)
corda_peft("corda_kpm", 10, 7, 3, 6, "kpm", samples=4, tokens=16, seed=20)
corda_peft("corda_kpm_few_tokens", 12, 5, 2, 2, "kpm", samples=2, tokens=3, seed=21)
corda_damped("corda_damped")

save_file({k: v.contiguous().float() for k, v in tensors.items()}, os.path.join(HERE, "references.safetensors"))
with open(os.path.join(HERE, "references.json"), "w") as f:
    json.dump(meta, f, indent=2)
    f.write("\n")
print(json.dumps(meta["cases"], indent=1))
