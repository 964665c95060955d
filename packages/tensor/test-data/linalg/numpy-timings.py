"""Times numpy.linalg.svd / qr / eigh (LAPACK gesdd / geqrf+orgqr / syevd) on the square sizes that
src/linalg/host.bench.ts uses. Pin BLAS to one thread to compare with single-threaded JS:
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 ../../../../.venv-ref/bin/python numpy-timings.py [sizes…]
"""
import sys
import time

import numpy as np


def median_ms(run, repeats):
    run()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return sorted(samples)[len(samples) // 2]


sizes = [int(s) for s in sys.argv[1:]] or [256, 1024]
rng = np.random.default_rng(0)
for size in sizes:
    a = rng.random((size, size)) - 0.5
    symmetric = a + a.T
    repeats = 5 if size <= 256 else 3
    for name, run in [
        ("svd (thin)", lambda: np.linalg.svd(a, full_matrices=False)),
        ("qr", lambda: np.linalg.qr(a)),
        ("eigh", lambda: np.linalg.eigh(symmetric)),
    ]:
        print(f"{size}×{size} {name}: {median_ms(run, repeats):.1f} ms")
