"""guard: the gRPC service that screens generated music against known works.

Composes the domain packages (`fingerprints`, `policies`, `takedown`) with
transport, storage, configuration and the command line; nothing else
imports from here.
"""

import os

for _pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    # One OpenMP / BLAS thread per call unless the operator sets otherwise. The service already runs its
    # paths and requests side by side (melody extraction in worker processes that inherit this), so a
    # library splitting each call over every core only oversubscribes them, and OpenMP's barriers wait for
    # the busy ones: a 3-minute MP3 screened on 2 cores went from p50 ~890 ms to ~680 ms. Set on import of
    # the package because OpenMP and OpenBLAS read it once, when they load (`guard serve` imports this
    # before numpy and FAISS).
    os.environ.setdefault(_pool, "1")
del _pool
