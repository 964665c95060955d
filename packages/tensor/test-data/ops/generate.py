"""Reference values for the tensor op suite, computed with PyTorch.

Writes ops.safetensors: for each case C, inputs `C.in0`, `C.in1`, … and outputs `C.out0`, `C.out1`, ….
src/ops.test.ts holds the same list of cases as TypeScript functions; the test fails if the two lists
differ. Run with the reference stack:  ../../../../.venv-ref/bin/python generate.py
"""
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
g = torch.Generator().manual_seed(1234)


def r(*shape, lo=-2.0, hi=2.0, dtype=torch.float32):
    return (torch.rand(*shape, generator=g, dtype=torch.float64) * (hi - lo) + lo).to(dtype)


cases = {}


def case(name, inputs, fn):
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else [out]
    cases[name] = (inputs, list(outs))


x = r(3, 4)
pos = r(3, 4, lo=0.1, hi=3.0)
halves = torch.tensor([[-2.5, -1.5, -0.5, 0.5], [1.5, 2.5, 0.49, -0.51], [3.0, -3.0, 0.0, 1.2]])
for name, fn, inp in [
    ("neg", torch.neg, x), ("abs", torch.abs, x), ("exp", torch.exp, x), ("log", torch.log, pos),
    ("sqrt", torch.sqrt, pos), ("rsqrt", torch.rsqrt, pos), ("sin", torch.sin, x), ("cos", torch.cos, x),
    ("tanh", torch.tanh, x), ("sigmoid", torch.sigmoid, r(3, 4, lo=-30, hi=30)), ("relu", torch.relu, x),
    ("silu", F.silu, r(3, 4, lo=-30, hi=30)), ("gelu", F.gelu, r(3, 4, lo=-6, hi=6)),
    ("gelu_tanh", lambda t: F.gelu(t, approximate="tanh"), r(3, 4, lo=-6, hi=6)),
    ("erf", torch.erf, r(3, 4, lo=-4, hi=4)), ("sign", torch.sign, halves), ("reciprocal", torch.reciprocal, pos),
    ("square", torch.square, x), ("floor", torch.floor, halves), ("ceil", torch.ceil, halves),
    ("round", torch.round, halves), ("pow_scalar", lambda t: t.pow(2.5), pos),
    ("clamp", lambda t: t.clamp(-0.5, 0.7), x),
]:
    case(name, [inp], fn)

a = r(3, 1, 4)
b = r(2, 4)
bp = r(2, 4, lo=0.2, hi=2.0)
ia = torch.tensor([[1.0, 2.0, 3.0, 4.0]]).reshape(1, 1, 4).expand(3, 1, 4).contiguous()
ib = torch.tensor([[1.0, 3.0, 3.0, 5.0], [0.0, 2.0, 4.0, 4.0]])
for name, fn, ins in [
    ("add", torch.add, [a, b]), ("sub", torch.sub, [a, b]), ("mul", torch.mul, [a, b]), ("div", torch.div, [a, bp]),
    ("pow", torch.pow, [r(3, 1, 4, lo=0.2, hi=2.0), b]), ("maximum", torch.maximum, [a, b]),
    ("minimum", torch.minimum, [a, b]),
    ("eq", torch.eq, [ia, ib]), ("ne", torch.ne, [ia, ib]), ("lt", torch.lt, [ia, ib]), ("le", torch.le, [ia, ib]),
    ("gt", torch.gt, [ia, ib]), ("ge", torch.ge, [ia, ib]),
    ("add_alpha", lambda p, q: torch.add(p, q, alpha=-2.5), [a, b]),
    ("where", lambda c, p, q: torch.where(c > 0, p, q), [r(3, 1, 4), a, b]),
]:
    case(name, ins, fn)

t = r(3, 4, 5)
case("sum_1", [t], lambda v: v.sum(1))
case("sum_02_keep", [t], lambda v: v.sum((0, 2), keepdim=True))
case("sum_all", [t], lambda v: v.sum())
case("mean_2", [t], lambda v: v.mean(2))
case("prod_1", [t], lambda v: v.prod(1))
case("amax_1", [t], lambda v: v.amax(1))
case("amin_02", [t], lambda v: v.amin((0, 2)))
case("argmax_2", [t], lambda v: v.argmax(2))
case("argmin_0", [t], lambda v: v.argmin(0))
case("argmax_all", [t], lambda v: v.argmax())
case("var_1", [t], lambda v: v.var(1))
case("var_c0", [t], lambda v: v.var((0, 2), correction=0, keepdim=True))
case("std_2", [t], lambda v: v.std(2))
case("norm2_1", [t], lambda v: torch.linalg.vector_norm(v, 2, dim=1))
case("norm_fro", [t], lambda v: torch.linalg.vector_norm(v))
case("norm1_2", [t], lambda v: torch.linalg.vector_norm(v, 1, dim=2))
case("norminf_0", [t], lambda v: torch.linalg.vector_norm(v, float("inf"), dim=0))
case("norm3_1", [t], lambda v: torch.linalg.vector_norm(v, 3, dim=1))
case("logsumexp_1", [t * 30], lambda v: torch.logsumexp(v, 1))
case("softmax_0", [t], lambda v: torch.softmax(v, 0))
case("softmax_last", [t * 40], lambda v: torch.softmax(v, -1))
case("log_softmax_1", [t * 40], lambda v: torch.log_softmax(v, 1))

case("matmul_batch_2d", [r(2, 3, 4), r(4, 5)], torch.matmul)
case("matmul_2d_batch", [r(3, 4), r(2, 4, 5)], torch.matmul)
case("matmul_bcast", [r(2, 1, 3, 4), r(3, 4, 2)], torch.matmul)
case("matmul_vec_mat", [r(4), r(4, 3)], torch.matmul)
case("matmul_mat_vec", [r(3, 4), r(4)], torch.matmul)
case("matmul_vec_vec", [r(4), r(4)], torch.matmul)
case("matmul_transposed", [r(4, 3), r(5, 4)], lambda p, q: p.t() @ q.t())
case("linear", [r(2, 3, 4), r(5, 4), r(5)], F.linear)

weight = r(10, 4)
ids = torch.tensor([[1, 9, 0], [3, 3, 7]])
case("embedding", [ids, weight], lambda i, w: F.embedding(i, w))
case("index_select_1", [t, torch.tensor([3, 0, 0, 2])], lambda v, i: v.index_select(1, i))
gi = torch.tensor([[[0, 1], [2, 2]], [[3, 0], [1, 1]], [[2, 2], [0, 3]]])
case("gather_1", [t, gi], lambda v, i: v.gather(1, i))
case("scatter_add_1", [t, gi, r(3, 2, 2)], lambda v, i, s: v.scatter_add(1, i, s))
case("triu_1", [r(2, 4, 5)], lambda v: v.triu(1))
case("tril_m1", [r(4, 5)], lambda v: v.tril(-1))

case("conv1d", [r(2, 4, 11), r(6, 2, 3), r(6)], lambda v, w, bb: F.conv1d(v, w, bb, stride=2, padding=1, dilation=2, groups=2))
case("conv2d", [r(2, 3, 7, 6), r(5, 3, 3, 2), r(5)], lambda v, w, bb: F.conv2d(v, w, bb, stride=(2, 1), padding=(1, 2)))
case("conv2d_1x1", [r(1, 8, 4, 4), r(4, 8, 1, 1)], lambda v, w: F.conv2d(v, w))
case("conv3d", [r(1, 2, 4, 5, 3), r(3, 2, 2, 3, 2), r(3)], lambda v, w, bb: F.conv3d(v, w, bb, padding=1))
case("conv2d_unbatched_same", [r(3, 5, 5), r(2, 3, 3, 3)], lambda v, w: F.conv2d(v, w, padding="same"))

case("layer_norm", [r(2, 3, 6), r(6), r(6)], lambda v, w, bb: F.layer_norm(v, (6,), w, bb, eps=1e-5))
case("layer_norm_2d", [r(2, 3, 6)], lambda v: F.layer_norm(v, (3, 6)))
case("rms_norm", [r(2, 3, 6), r(6)], lambda v, w: F.rms_norm(v, (6,), w, eps=1e-6))

logits = r(4, 5) * 3
target = torch.tensor([1, -100, 4, 0])
case("cross_entropy_mean", [logits, target], lambda lg, tg: F.cross_entropy(lg, tg))
case("cross_entropy_sum", [logits, target], lambda lg, tg: F.cross_entropy(lg, tg, reduction="sum"))
case("cross_entropy_none", [logits, target], lambda lg, tg: F.cross_entropy(lg, tg, reduction="none"))
case("cross_entropy_smooth", [logits, target], lambda lg, tg: F.cross_entropy(lg, tg, label_smoothing=0.1))
case("cross_entropy_seq", [r(2, 5, 3), torch.tensor([[1, 4, -100], [0, 2, 2]])], lambda lg, tg: F.cross_entropy(lg, tg))

srt = torch.tensor([[3.0, 1.0, 2.0, 1.0, 5.0], [0.5, -1.0, 0.5, 7.0, 2.0]])
case("sort_desc", [srt], lambda v: v.sort(dim=-1, descending=True, stable=True))
case("sort_asc_0", [t], lambda v: v.sort(dim=0, stable=True))
case("topk", [t], lambda v: v.topk(2, dim=1))
case("kthvalue", [t], lambda v: v.kthvalue(3, dim=2))
case("quantile_1", [t], lambda v: v.quantile(0.3, dim=1))
case("quantile_all", [t], lambda v: v.quantile(0.77))

tensors = {}
for name, (ins, outs) in cases.items():
    for i, v in enumerate(ins):
        tensors[f"{name}.in{i}"] = v.clone().contiguous()
    for i, v in enumerate(outs):
        v = v.contiguous()
        if v.dtype == torch.bool:
            v = v.to(torch.uint8)
        tensors[f"{name}.out{i}"] = v
save_file(tensors, "ops.safetensors")
print(len(cases), "cases")
