"""Reference numbers for @lorakit/eva's incremental PCA, from PEFT's own `IncrementalPCA`.

Run from the repository root with the reference stack (torch, peft, safetensors):

    .venv-ref/bin/python packages/eva/test-data/make_ipca_references.py

Writes `ipca.safetensors` beside this script: for each case C, the batches `C.batch{i}` and, after each
`partial_fit`, `C.step{i}.{components,singular_values,mean,var,explained_variance,
explained_variance_ratio,noise_variance,n_samples_seen}`; `randn.{size}.{dtype}` are `torch.randn(size)` after
`torch.manual_seed(42)`. `ipca.json` lists the cases and their options.
"""

import json
import os

import torch
from peft.utils.incremental_pca import IncrementalPCA
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)


def batches(sizes, features, dtype=torch.float32):
    """Anisotropic data (decaying column scales, a rotation, an offset) so components are well separated."""
    scales = torch.linspace(3.0, 0.2, features, dtype=torch.float64)
    rotation, _ = torch.linalg.qr(torch.randn(features, features, dtype=torch.float64))
    offset = torch.randn(features, dtype=torch.float64)
    return [((torch.randn(m, features, dtype=torch.float64) * scales) @ rotation + offset).to(dtype) for m in sizes]


CASES = {
    # name: (options, batch sizes, features, dtype)
    "full": (dict(n_components=4), [20, 15, 30], 12, torch.float32),
    "full_auto_components": (dict(), [14, 20], 12, torch.float32),
    # a first batch with fewer rows than features runs the randomized SVD on the transpose
    "lowrank": (dict(n_components=3, lowrank=True, lowrank_seed=42), [8, 16, 9, 25], 10, torch.float32),
    "lowrank_q": (dict(n_components=2, lowrank=True, lowrank_q=7, lowrank_niter=2, lowrank_seed=42),
                  [12, 30], 9, torch.float32),
    "lowrank_float64": (dict(n_components=3, lowrank=True, lowrank_seed=42), [20, 20], 6, torch.float64),
}

tensors = {}
meta = {}
for name, (options, sizes, features, dtype) in CASES.items():
    ipca = IncrementalPCA(**options)
    data = batches(sizes, features, dtype)
    meta[name] = {"options": options, "steps": len(data)}
    for i, x in enumerate(data):
        tensors[f"{name}.batch{i}"] = x
        ipca.partial_fit(x)
        prefix = f"{name}.step{i}"
        tensors[f"{prefix}.components"] = ipca.components_
        tensors[f"{prefix}.singular_values"] = ipca.singular_values_
        tensors[f"{prefix}.mean"] = ipca.mean_
        tensors[f"{prefix}.var"] = ipca.var_
        tensors[f"{prefix}.explained_variance"] = ipca.explained_variance_
        tensors[f"{prefix}.explained_variance_ratio"] = ipca.explained_variance_ratio_
        tensors[f"{prefix}.noise_variance"] = torch.as_tensor(ipca.noise_variance_, dtype=torch.float64).reshape(1)
        tensors[f"{prefix}.n_samples_seen"] = ipca.n_samples_seen_.to(torch.int64).reshape(1)

# PyTorch's CPU normal sampler after manual_seed(42): the sketch of every randomized SVD above.
for size in (5, 15, 16, 37, 100):
    for dtype in (torch.float32, torch.float64):
        torch.manual_seed(42)
        tensors[f"randn.{size}.{str(dtype).removeprefix('torch.')}"] = torch.randn(size, dtype=dtype)

save_file({k: v.detach().contiguous() for k, v in tensors.items()}, os.path.join(HERE, "ipca.safetensors"))
with open(os.path.join(HERE, "ipca.json"), "w") as f:
    json.dump({"versions": {"torch": torch.__version__, "peft": __import__("peft").__version__}, "cases": meta},
              f, indent=2)
    f.write("\n")
