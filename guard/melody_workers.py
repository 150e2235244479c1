"""Melody extraction in worker processes, so that it runs beside the audio fingerprints instead of taking
turns with them for the GIL.

Measured on a 3-minute track (2 cores, idle): extraction alone 0.40 s and both audio fingerprints alone
0.21 s; run in two threads of one process they took 0.61-0.74 s together, in a worker process beside the
fingerprints 0.48-0.59 s (the extractor's many small numpy steps hold the GIL). Workers fork from a
forkserver that has run the extractor once (guard._warm_extractor), so a worker starts warm and never
inherits the server's gRPC threads. (A worker does import the program's main script when the program was
started from a path, as the `guard` console script is: ~1.5 s per worker, once, at start-up.)
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import structlog

from fingerprints import melody

log = structlog.get_logger()


def default_processes() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class MelodyWorkers:
    """extract_melody in a pool of processes; a pool whose worker died is replaced and the call retried once."""

    def __init__(self, processes: int) -> None:
        self._processes = processes
        self._lock = threading.Lock()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["guard._warm_extractor"])
        pool = ProcessPoolExecutor(max_workers=self._processes, mp_context=context)
        pool.submit(int)  # start the workers now rather than on the first screening
        return pool

    def extract(self, samples: np.ndarray, sample_rate: int) -> melody.Melody:
        """The lead melody; NoMelodyFound (raised in the worker) when there is none."""
        for attempt in (1, 2):
            pool = self._pool
            try:
                return pool.submit(melody.extract_melody, samples, sample_rate).result()
            except BrokenProcessPool:
                log.warning("melody_worker_lost", attempt=attempt)
                with self._lock:
                    if self._pool is pool:
                        self._pool = self._new_pool()
                        pool.shutdown(wait=False, cancel_futures=True)
        raise RuntimeError("melody extraction workers keep dying (out of memory?)")

    def pids(self) -> list[int]:
        """The live workers' process ids (diagnostics; the service tests kill one)."""
        return [p.pid for p in list(self._pool._processes.values())]  # noqa: SLF001 - no public accessor

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
