"""The service's process runs one OpenMP / BLAS thread per call unless the operator says otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = "import guard, faiss, numpy; print(faiss.omp_get_max_threads())"


def _threads(**env: str) -> int:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True,
                         check=True, timeout=120)
    return int(out.stdout.strip())


def test_faiss_runs_one_thread_per_call_by_default():
    assert _threads() == 1


def test_operator_setting_wins():
    assert _threads(OMP_NUM_THREADS="2") == 2
