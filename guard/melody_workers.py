"""Melody extraction in worker processes, fed while the track is still being decoded.

Processes, so that extraction runs beside the audio fingerprints instead of taking turns with them for the
GIL. Measured on a 3-minute track (2 cores, idle): extraction alone 0.40 s and both audio fingerprints alone
0.21 s; run in two threads of one process they took 0.61-0.74 s together, in a worker process beside the
fingerprints 0.48-0.59 s (the extractor's many small numpy steps hold the GIL).

Fed while decoding, because the extractor's spectral analysis (about half its work) needs only the
samples so far (fingerprints.melody.Extractor): a screening streams the decoder's output to a worker, which
analyses it on the other core while the decode goes on, so only the contour, notes and beats are left when
the last samples arrive.

Workers fork from a forkserver that has run the extractor once (guard._warm_extractor), so a worker starts
warm and never inherits the server's gRPC threads. (A worker does import the program's main script when the
program was started from a path, as the `guard` console script is: ~1.5 s per worker, once, at start-up.)
A worker found dead is replaced; an extraction whose worker died is run again, whole, on a fresh one.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from multiprocessing.connection import Connection

import numpy as np
import structlog

from fingerprints import melody

log = structlog.get_logger()

_STOP = None


def default_processes() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class WorkerLost(Exception):
    """The worker process died (killed, out of memory) before it answered."""


class MelodyWorkers:
    """A fixed set of extraction processes, each serving one extraction at a time."""

    def __init__(self, processes: int) -> None:
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["guard._warm_extractor", "guard.melody_workers"])
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        for _ in range(processes):
            self._idle.put(self._spawn())

    def start(self, sample_rate: int) -> "MelodyExtraction":
        """An extraction to feed the samples to as they are decoded. Streamed to a worker when one is idle
        and the rate is the extractor's; otherwise the samples are sent whole when the melody is asked for."""
        worker = self._checkout(wait=False) if sample_rate == melody.EXTRACTION_RATE else None
        return MelodyExtraction(self, worker)

    def extract(self, samples: np.ndarray, sample_rate: int) -> melody.Melody:
        """The lead melody of the whole recording; NoMelodyFound (raised in the worker) when there is none."""
        for attempt in (1, 2):
            worker = self._checkout(wait=True)
            try:
                return worker.extract(samples, sample_rate)
            except WorkerLost:
                log.warning("melody_worker_lost", attempt=attempt)
            finally:
                self.checkin(worker)
        raise RuntimeError("melody extraction workers keep dying (out of memory?)")

    def pids(self) -> list[int]:
        """The workers' process ids (diagnostics; the service tests kill one)."""
        with self._lock:
            return [w.pid for w in self._workers]

    def close(self) -> None:
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop()

    def _spawn(self) -> "_Worker":
        worker = _Worker(self._context)
        with self._lock:
            self._workers.append(worker)
        return worker

    def _checkout(self, *, wait: bool) -> "_Worker | None":
        while True:
            try:
                worker = self._idle.get(block=wait)
            except queue.Empty:
                return None
            if worker.alive:
                return worker
            self._retire(worker)
            self._idle.put(self._spawn())

    def checkin(self, worker: "_Worker") -> None:
        if not worker.alive:
            self._retire(worker)
            worker = self._spawn()
        self._idle.put(worker)

    def _retire(self, worker: "_Worker") -> None:
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
        worker.stop()


class MelodyExtraction:
    """One track's extraction: `feed` the decoded pieces, then `melody` (or `cancel`, when the decode failed)."""

    def __init__(self, workers: MelodyWorkers, worker: "_Worker | None") -> None:
        self._workers = workers
        self._worker = worker

    def feed(self, samples: np.ndarray) -> None:
        if self._worker is not None:
            self._worker.post(("feed", samples))

    def melody(self, samples: np.ndarray, sample_rate: int) -> melody.Melody:
        """The melody of the whole track, `samples` (what was fed, in one piece: sent again, whole, to a fresh
        worker if the streaming one was lost)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            try:
                return worker.finish()
            except WorkerLost:
                log.warning("melody_worker_lost", attempt=0)
            finally:
                self._workers.checkin(worker)
        return self._workers.extract(samples, sample_rate)

    def cancel(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.post(("reset",))
            self._workers.checkin(worker)


class _Worker:
    """One process and the pipe to it. Messages go out through a sender thread, so feeding never waits for
    the worker; answers are read by the thread that asked."""

    def __init__(self, context) -> None:
        ours, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(theirs,), name="guard-melody", daemon=True)
        self._process.start()
        theirs.close()
        self._conn: Connection = ours
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._broken = False
        self._sender = threading.Thread(target=self._send, name="guard-melody-send", daemon=True)
        self._sender.start()
        self.pid = self._process.pid

    @property
    def alive(self) -> bool:
        return not self._broken and self._process.is_alive()

    def post(self, message: tuple) -> None:
        self._outbox.put(message)

    def finish(self) -> melody.Melody:
        self.post(("finish",))
        return self._answer()

    def extract(self, samples: np.ndarray, sample_rate: int) -> melody.Melody:
        self.post(("extract", samples, sample_rate))
        return self._answer()

    def stop(self) -> None:
        self.post(("stop",))
        self.post(_STOP)
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        self._conn.close()

    def _answer(self) -> melody.Melody:
        try:
            ok, value = self._conn.recv()
        except (EOFError, OSError) as exc:
            self._broken = True
            raise WorkerLost from exc
        if not ok:
            raise value
        return value

    def _send(self) -> None:
        while (message := self._outbox.get()) is not _STOP:
            if self._broken:
                continue
            try:
                self._conn.send(message)
            except (OSError, ValueError):
                self._broken = True


def _serve(conn: Connection) -> None:
    """The worker process: ("feed", samples)* then ("finish",) -> (True, Melody) or (False, exception);
    ("extract", samples, rate) likewise in one message; ("reset",) drops a half-fed track."""
    extractor: melody.Extractor | None = None
    failure: Exception | None = None
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        kind = message[0]
        if kind == "feed":
            if failure is None:
                try:
                    extractor = extractor or melody.Extractor()
                    extractor.feed(message[1])
                except Exception as exc:  # reported when the melody is asked for
                    failure = exc
        elif kind in ("finish", "extract"):
            try:
                if failure is not None:
                    raise failure
                if kind == "extract":
                    answer = (True, melody.extract_melody(message[1], message[2]))
                else:
                    answer = (True, (extractor or melody.Extractor()).finish().melody)
            except Exception as exc:
                answer = (False, exc)
            extractor, failure = None, None
            conn.send(answer)
        elif kind == "reset":
            extractor, failure = None, None
        elif kind == "stop":
            return
