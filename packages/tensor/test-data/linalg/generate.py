"""Writes reference.safetensors: test matrices and what NumPy's LAPACK returns for them, for the host
linear algebra in packages/tensor/src/linalg. Run with the reference Python stack from this folder:
    ../../../../.venv-ref/bin/python generate.py

For each case NAME the file holds NAME.a (the matrix) and, as applicable, NAME.s (numpy.linalg.svd
singular values), NAME.q / NAME.r (numpy.linalg.qr, mode "reduced") and NAME.values
(numpy.linalg.eigh eigenvalues, lower triangle). All float64.
"""
import numpy as np
import torch
from safetensors.numpy import save_file

rng = np.random.default_rng(20240611)


def orthonormal(size):
    q, _ = np.linalg.qr(rng.standard_normal((size, size)))
    return q


def with_singular_values(m, n, s):
    return orthonormal(m)[:, : len(s)] @ np.diag(s) @ orthonormal(n)[: len(s), :]


general = {
    "random_5x3": rng.standard_normal((5, 3)),
    "random_3x5": rng.standard_normal((3, 5)),
    "random_8x8": rng.standard_normal((8, 8)),
    "random_40x17": rng.standard_normal((40, 17)),
    "random_17x40": rng.standard_normal((17, 40)),
    "random_64x64": rng.standard_normal((64, 64)),
    "rank3_20x12": rng.standard_normal((20, 3)) @ rng.standard_normal((3, 12)),
    # Singular values 1, 1e-12^(1/19), …, 1e-12: condition number 1e12.
    "illcond_30x20": with_singular_values(30, 20, np.logspace(0, -12, 20)),
    "zero_4x3": np.zeros((4, 3)),
}
# Full column (or row) rank: Q and R are unique given LAPACK's reflector signs, so they are compared
# element for element. The ill-conditioned one is left out: its Q is only determined to about cond·ε.
qr_cases = ["random_5x3", "random_3x5", "random_8x8", "random_40x17", "random_17x40", "random_64x64", "zero_4x3"]

symmetric = {}
# Eigenvalue 2 three times, -1 twice, plus 0.5 and 7: eigenvectors of a repeated value are not unique.
values = np.array([2.0, -1.0, 2.0, 0.5, -1.0, 7.0, 2.0, 3.0, 3.0 + 1e-9, 10.0])
q = orthonormal(len(values))
repeated = q @ np.diag(values) @ q.T
symmetric["repeated_10x10"] = (repeated + repeated.T) / 2
random_symmetric = rng.standard_normal((30, 30))
symmetric["random_30x30"] = (random_symmetric + random_symmetric.T) / 2

tensors = {}
for name, a in general.items():
    a = np.ascontiguousarray(a, dtype=np.float64)
    tensors[f"{name}.a"] = a
    tensors[f"{name}.s"] = np.linalg.svd(a, compute_uv=False)
    if name in qr_cases:
        q, r = np.linalg.qr(a)
        # torch (same LAPACK routines, geqrf + orgqr) returns the same factors: OLoRA sees these signs.
        tq, tr = torch.linalg.qr(torch.from_numpy(a))
        assert np.allclose(tq.numpy(), q, rtol=0, atol=1e-12) and np.allclose(tr.numpy(), r, rtol=0, atol=1e-12)
        tensors[f"{name}.q"] = np.ascontiguousarray(q)
        tensors[f"{name}.r"] = np.ascontiguousarray(r)
for name, a in symmetric.items():
    a = np.ascontiguousarray(a, dtype=np.float64)
    tensors[f"{name}.a"] = a
    tensors[f"{name}.values"] = np.linalg.eigh(a)[0]

save_file(tensors, "reference.safetensors", metadata={"generator": "generate.py", "numpy": np.__version__})
