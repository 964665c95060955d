"""PEFT's add_weighted_adapter on the benchmark adapters (environment: ADAPTERS (os.pathsep-separated),
WEIGHTS (comma-separated), LAYERS, DIM, TYPE, DENSITY (optional), OUT). The base model is the module tree
the adapters target, with nn.Linear(DIM, DIM) weights allocated but never written (meta, then to_empty),
so it costs address space but next to no resident memory. Prints JSON: load, merge and save times (ms), the
process's CPU time (ms, all threads, imports included) and its peak RSS (MB)."""

import json
import os
import resource
import time

import torch
from peft import PeftModel

torch.set_num_threads(2)
layers, dim = int(os.environ["LAYERS"]), int(os.environ["DIM"])
adapters = os.environ["ADAPTERS"].split(os.pathsep)
weights = [float(w) for w in os.environ["WEIGHTS"].split(",")]
kwargs = {"density": float(os.environ["DENSITY"])} if os.environ.get("DENSITY") else {}


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = torch.nn.Linear(dim, dim, bias=False)
        self.v_proj = torch.nn.Linear(dim, dim, bias=False)


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.self_attn = Attention()


class Inner(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList(Layer() for _ in range(layers))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.model = Inner()


with torch.device("meta"):
    model = Model()
model = model.to_empty(device="cpu")

t0 = time.perf_counter()
peft_model = PeftModel.from_pretrained(model, adapters[0], adapter_name="a0")
for i, path in enumerate(adapters[1:], start=1):
    peft_model.load_adapter(path, adapter_name=f"a{i}")
t1 = time.perf_counter()
peft_model.add_weighted_adapter(
    [f"a{i}" for i in range(len(adapters))], weights, "merged", combination_type=os.environ["TYPE"], **kwargs
)
t2 = time.perf_counter()
peft_model.save_pretrained(os.environ["OUT"], selected_adapters=["merged"])
t3 = time.perf_counter()
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "load_ms": (t1 - t0) * 1000,
    "merge_ms": (t2 - t1) * 1000,
    "save_ms": (t3 - t2) * 1000,
    "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000,
    "max_rss_mb": usage.ru_maxrss / 1024,
}))
