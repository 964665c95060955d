"""Writes all-dtypes.safetensors (with Python's safetensors) and all-dtypes.json (the values, as Python
decodes them). Run with the reference Python stack:  ../../../.venv-ref/bin/python generate.py
"""
import json
import math

import torch
from safetensors.torch import save_file

specials = [0.0, -0.0, 1.0, -2.5, 0.1, 3.14159, 1e-3, 65504.0, float("inf"), float("-inf"), float("nan")]
f = torch.tensor(specials, dtype=torch.float32)
tensors = {
    "f64": torch.tensor(specials, dtype=torch.float64),
    "f32": f,
    "f16": f.to(torch.float16),
    "bf16": f.to(torch.bfloat16),
    "f8_e4m3": torch.tensor([0.0, -0.0, 1.0, -2.5, 0.1, 3.14159, 1e-3, 448.0, 300.0], dtype=torch.float32).to(torch.float8_e4m3fn),
    "f8_e5m2": f.to(torch.float8_e5m2),
    "i64": torch.tensor([0, -1, 2**40, -(2**62), 2**63 - 1], dtype=torch.int64),
    "i32": torch.tensor([0, -1, 2**31 - 1, -(2**31)], dtype=torch.int32),
    "i16": torch.tensor([0, -1, 32767, -32768], dtype=torch.int16),
    "i8": torch.tensor([0, -1, 127, -128], dtype=torch.int8),
    "u64": torch.tensor([0, 1, 2**40], dtype=torch.uint64),
    "u32": torch.tensor([0, 1, 2**32 - 1], dtype=torch.uint32),
    "u16": torch.tensor([0, 1, 65535], dtype=torch.uint16),
    "u8": torch.tensor([0, 1, 255], dtype=torch.uint8),
    "bool": torch.tensor([True, False, True]),
    "scalar": torch.tensor(2.0),
    "empty": torch.zeros(0, 3),
    "matrix": torch.arange(6, dtype=torch.float32).reshape(2, 3),
}
save_file(tensors, "all-dtypes.safetensors", metadata={"format": "pt", "note": "lorakit test"})


def encode(v):
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    return str(v) if abs(v) > 2**53 else v


expected = {}
for name, t in tensors.items():
    flat = t.reshape(-1)
    if t.dtype in (torch.int64, torch.uint64):
        expected[name] = [str(int(x)) for x in flat.tolist()]
    elif t.is_floating_point():
        expected[name] = [encode(float(x)) for x in (flat if t.dtype == torch.float64 else flat.to(torch.float32)).tolist()]
    else:
        expected[name] = [int(x) for x in flat.tolist()]
json.dump(expected, open("all-dtypes.json", "w"), indent=1)
