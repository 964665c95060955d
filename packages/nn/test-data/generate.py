"""Reference data for @lorakit/nn, computed with PyTorch (float32, CPU).

Run from the repository root with the reference stack:

    .venv-ref/bin/python packages/nn/test-data/generate.py

Writes, next to this file:
  layers.safetensors    layer cases: `<case>.in`, `<case>.param.<name>`, `<case>.out`, `<case>.cot`
                        (the cotangent of the output), `<case>.grad.in`, `<case>.grad.param.<name>`
  training.safetensors  a tiny MLP (Linear→GELU→LayerNorm→Linear): initial weights, three batches,
                        gradients, clip_grad_norm results, losses, and parameters and optimizer state
                        after three optimizer steps for each optimizer configuration
  reference.json        scalars: losses, norms, learning rates per step, state-dict key lists, configs
"""

import json
import math
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn
from transformers import get_cosine_schedule_with_warmup, get_scheduler
from transformers.loss.loss_utils import ForCausalLMLoss
from transformers.models.llama.modeling_llama import LlamaRMSNorm
from transformers.pytorch_utils import Conv1D

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)
torch.set_default_dtype(torch.float32)

layers: dict[str, torch.Tensor] = {}
training: dict[str, torch.Tensor] = {}
reference: dict = {"torch": torch.__version__}


def store(target: dict, name: str, t: torch.Tensor) -> None:
    target[name] = t.detach().clone().contiguous()


def perturb(module: nn.Module) -> None:
    """Moves norm weights off 1 and biases off 0 so that every parameter matters."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.LayerNorm, LlamaRMSNorm)):
                for p in m.parameters():
                    p.add_(0.1 * torch.randn_like(p))


# ── layers ─────────────────────────────────────────────────────────────────────
def layer_case(name: str, module: nn.Module, x: torch.Tensor, train: bool = False) -> None:
    module.train(train)
    perturb(module)
    floating = x.is_floating_point()
    x = x.clone().requires_grad_(floating)
    out = module(x)
    cot = torch.randn_like(out)
    (out * cot).sum().backward()
    store(layers, f"{name}.in", x)
    for pname, p in module.named_parameters():
        store(layers, f"{name}.param.{pname}", p)
        store(layers, f"{name}.grad.param.{pname}", p.grad)
    store(layers, f"{name}.out", out)
    store(layers, f"{name}.cot", cot)
    if floating:
        store(layers, f"{name}.grad.in", x.grad)


layer_case("linear", nn.Linear(5, 3), torch.randn(2, 4, 5))
layer_case("linear_nobias", nn.Linear(5, 3, bias=False), torch.randn(4, 5))
gpt2 = Conv1D(3, 5)  # nf = 3 outputs, nx = 5 inputs; weight [5, 3]
with torch.no_grad():
    gpt2.weight.normal_(0, 0.5)
    gpt2.bias.normal_(0, 0.5)
layer_case("conv1d_gpt2", gpt2, torch.randn(2, 4, 5))
layer_case("embedding", nn.Embedding(10, 4), torch.tensor([[1, 3, 9], [3, 0, 2]]))
layer_case("embedding_padding", nn.Embedding(10, 4, padding_idx=0), torch.tensor([[0, 3, 0], [5, 0, 2]]))
layer_case("conv1d", nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2), torch.randn(2, 4, 9))
layer_case(
    "conv2d", nn.Conv2d(3, 4, (3, 2), stride=(1, 2), padding=1, dilation=(2, 1)), torch.randn(2, 3, 7, 6)
)
layer_case("conv2d_same", nn.Conv2d(2, 3, 3, padding="same", bias=False), torch.randn(1, 2, 5, 5))
layer_case("conv3d", nn.Conv3d(2, 3, 2, padding=1), torch.randn(1, 2, 4, 4, 3))
layer_case("layernorm", nn.LayerNorm(6), torch.randn(2, 3, 6))
layer_case("layernorm_2d_nobias", nn.LayerNorm([3, 6], eps=1e-6, bias=False), torch.randn(2, 3, 6))
layer_case("rmsnorm", LlamaRMSNorm(6, eps=1e-6), torch.randn(2, 3, 6))
layer_case("dropout_eval", nn.Dropout(0.3), torch.randn(3, 4), train=False)


class Containers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])
        self.seq = nn.Sequential(nn.Linear(4, 4), nn.Tanh())
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 3), "b": nn.Linear(4, 3, bias=False)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = torch.relu(layer(x))
        x = self.seq(x)
        return self.heads["a"](x) + self.heads["b"](x)


containers = Containers()
layer_case("containers", containers, torch.randn(5, 4))
reference["containers_state_keys"] = list(containers.state_dict().keys())


# ── losses ─────────────────────────────────────────────────────────────────────
logits = torch.randn(6, 5)
target = torch.tensor([0, 4, -100, 2, 2, 1])
store(training, "ce.logits", logits)
store(training, "ce.target", target)
ce = {
    "mean": F.cross_entropy(logits, target).item(),
    "sum": F.cross_entropy(logits, target, reduction="sum").item(),
    "smooth": F.cross_entropy(logits, target, label_smoothing=0.1).item(),
    "ignore2": F.cross_entropy(logits, target.clamp(min=0), ignore_index=2).item(),
}
store(training, "ce.none", F.cross_entropy(logits, target, reduction="none"))
logits3 = torch.randn(2, 4, 3)
target3 = torch.tensor([[0, 3, -100], [1, 1, 2]])
store(training, "ce.logits3", logits3)
store(training, "ce.target3", target3)
ce["seq"] = F.cross_entropy(logits3, target3).item()
reference["cross_entropy"] = ce

mse_in, mse_target = torch.randn(3, 4), torch.randn(3, 4)
store(training, "mse.in", mse_in)
store(training, "mse.target", mse_target)
reference["mse"] = {
    "mean": F.mse_loss(mse_in, mse_target).item(),
    "sum": F.mse_loss(mse_in, mse_target, reduction="sum").item(),
}
store(training, "mse.none", F.mse_loss(mse_in, mse_target, reduction="none"))

lm_logits = torch.randn(2, 5, 7, requires_grad=True)
lm_labels = torch.tensor([[3, 1, 4, -100, -100], [-100, 2, 6, 0, 5]])
lm_loss = ForCausalLMLoss(lm_logits, lm_labels, vocab_size=7)
lm_loss.backward()
store(training, "lm.logits", lm_logits)
store(training, "lm.labels", lm_labels)
store(training, "lm.grad", lm_logits.grad)
reference["causal_lm"] = {
    "mean": lm_loss.item(),
    "items10": ForCausalLMLoss(lm_logits, lm_labels, vocab_size=7, num_items_in_batch=10).item(),
}


# ── the MLP ────────────────────────────────────────────────────────────────────
class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.act = nn.GELU()
        self.norm = nn.LayerNorm(16)
        self.fc2 = nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.norm(self.act(self.fc1(x))))


base = MLP()
perturb(base)
initial = {k: v.detach().clone() for k, v in base.state_dict().items()}
names = [n for n, _ in base.named_parameters()]
reference["mlp_parameters"] = names
for k, v in initial.items():
    store(training, f"mlp.init.{k}", v)

batches = []
for i in range(3):
    x = torch.randn(6, 8)
    y = torch.randint(0, 5, (6,))
    y[2] = -100
    batches.append((x, y))
    store(training, f"batch.{i}.x", x)
    store(training, f"batch.{i}.y", y)


def fresh() -> MLP:
    model = MLP()
    model.load_state_dict(initial)
    return model


model = fresh()
out = model(batches[0][0])
loss = F.cross_entropy(out, batches[0][1])
loss.backward()
store(training, "mlp.logits", out)
reference["mlp_loss"] = loss.item()
for n, p in model.named_parameters():
    store(training, f"mlp.grad.{n}", p.grad)

# clip_grad_norm_ on copies of those gradients
clip = {}
for case, max_norm, norm_type in [
    ("l2_small", 0.5, 2.0),
    ("l2_large", 100.0, 2.0),
    ("inf", 0.1, math.inf),
    ("l1", 0.5, 1.0),
]:
    params = [nn.Parameter(p.detach().clone()) for p in model.parameters()]
    for p, q in zip(params, model.parameters()):
        p.grad = q.grad.detach().clone()
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type, foreach=False)
    clip[case] = {"maxNorm": max_norm, "normType": "inf" if norm_type == math.inf else norm_type,
                  "total": total.item()}
    for n, p in zip(names, params):
        store(training, f"clip.{case}.{n}", p.grad)
reference["clip"] = clip


# ── optimizers: three steps from the same weights ─────────────────────────────
def groups_of(model: MLP, lr_bias: float) -> list:
    weights = [p for n, p in model.named_parameters() if n.endswith("weight") and not n.startswith("norm")]
    rest = [p for n, p in model.named_parameters() if not (n.endswith("weight") and not n.startswith("norm"))]
    return [{"params": weights, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0, "lr": lr_bias}]


RUNS = {
    "sgd_momentum": {
        "optimizer": ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01, "nesterov": False}),
        "schedule": ("linear", {"num_warmup_steps": 1, "num_training_steps": 5}),
    },
    "sgd_nesterov": {
        "optimizer": ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01, "nesterov": True}),
        "schedule": ("cosine", {"num_warmup_steps": 0, "num_training_steps": 5}),
    },
    "sgd_dampening": {
        "optimizer": ("SGD", {"lr": 0.05, "momentum": 0.5, "dampening": 0.3}),
        "schedule": ("constant", {}),
    },
    "sgd_plain": {"optimizer": ("SGD", {"lr": 0.1}), "schedule": None},
    "adamw": {
        "optimizer": ("AdamW", {"lr": 1e-2, "weight_decay": 0.01}),
        "schedule": ("cosine", {"num_warmup_steps": 1, "num_training_steps": 5}),
    },
    "adamw_amsgrad": {
        "optimizer": ("AdamW", {"lr": 1e-2, "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.1,
                                "amsgrad": True}),
        "schedule": ("linear", {"num_warmup_steps": 0, "num_training_steps": 4}),
    },
    "adamw_groups": {
        "optimizer": ("AdamW", {"lr": 1e-2}),
        "groups": {"lr_bias": 5e-3},
        "schedule": ("constant_with_warmup", {"num_warmup_steps": 2}),
    },
    "adamw_clip": {
        "optimizer": ("AdamW", {"lr": 2e-2, "betas": [0.5, 0.9]}),
        "schedule": None,
        "max_grad_norm": 0.05,
    },
}

runs = {}
for run, config in RUNS.items():
    model = fresh()
    kind, options = config["optimizer"]
    params = groups_of(model, config["groups"]["lr_bias"]) if "groups" in config else model.parameters()
    torch_options = {k: (tuple(v) if k == "betas" else v) for k, v in options.items()}
    if kind == "SGD":
        optimizer = torch.optim.SGD(params, foreach=False, **torch_options)
    else:
        optimizer = torch.optim.AdamW(params, foreach=False, **torch_options)
    scheduler = None
    if config["schedule"]:
        name, kwargs = config["schedule"]
        scheduler = get_scheduler(name, optimizer, **kwargs)
    lrs, losses, norms = [], [], []
    for step, (x, y) in enumerate(batches):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        losses.append(loss.item())
        if "max_grad_norm" in config:
            norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), config["max_grad_norm"],
                                                        foreach=False).item())
        for n, p in model.named_parameters():
            store(training, f"run.{run}.step{step}.grad.{n}", p.grad)
        lrs.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        if scheduler:
            scheduler.step()
    for n, p in model.named_parameters():
        store(training, f"run.{run}.param.{n}", p)
    state = optimizer.state_dict()
    for index, s in state["state"].items():
        for key, value in s.items():
            store(training, f"run.{run}.state.{index}.{key}", value.to(torch.float32).reshape(value.shape))
    runs[run] = {
        **{k: v for k, v in config.items() if k != "optimizer"},
        "optimizer": kind,
        "options": options,
        "lrs": lrs,
        "losses": losses,
        "norms": norms,
        "param_groups": [g["params"] for g in state["param_groups"]],
    }
reference["runs"] = runs


# ── schedules: learning rates of 10 steps ──────────────────────────────────────
SCHEDULES = {
    "constant": ("constant", {}),
    "constant_with_warmup": ("constant_with_warmup", {"num_warmup_steps": 3}),
    "linear": ("linear", {"num_warmup_steps": 3, "num_training_steps": 10}),
    "linear_short": ("linear", {"num_warmup_steps": 0, "num_training_steps": 7}),
    "cosine": ("cosine", {"num_warmup_steps": 3, "num_training_steps": 10}),
    "cosine_one_cycle": ("cosine", {"num_warmup_steps": 2, "num_training_steps": 8, "num_cycles": 1.0}),
}
schedules = {}
for key, (name, kwargs) in SCHEDULES.items():
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    if "num_cycles" in kwargs:
        scheduler = get_cosine_schedule_with_warmup(optimizer, **kwargs)
    else:
        scheduler = get_scheduler(name, optimizer, **kwargs)
    values = []
    for _ in range(10):
        values.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    schedules[key] = {"name": name, "options": kwargs, "lrs": values}
reference["schedules"] = schedules

save_file(layers, os.path.join(HERE, "layers.safetensors"))
save_file(training, os.path.join(HERE, "training.safetensors"))
with open(os.path.join(HERE, "reference.json"), "w") as f:
    json.dump(reference, f, indent=1, sort_keys=True)
    f.write("\n")
print(f"layers: {len(layers)} tensors, training: {len(training)} tensors")
