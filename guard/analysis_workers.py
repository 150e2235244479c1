"""Track analysis in worker processes, fed while the track is still being decoded: the melody, and the
landmark fingerprint's spectrogram.

Processes, so that this work runs beside the audio path instead of taking turns with it for the GIL.
Measured on a 3-minute track (2 cores, idle): melody extraction alone 0.40 s and both audio fingerprints
alone 0.21 s; run in two threads of one process they took 0.61-0.74 s together, in a worker process beside
the fingerprints 0.48-0.59 s (the extractor's many small numpy steps hold the GIL). A thread of the server
computing the landmark spectrogram during the decode slowed the decode by as much as it saved.

Fed while decoding, because both analyses mostly need only the samples so far: the melody extractor's
spectral half and its contour's forward pass (fingerprints.melody.Extractor) and the landmark spectrogram
(landmarks.Spectrogram) run on the other core while the decode goes on. When the last samples arrive the
worker finishes the spectrogram first (the audio path waits for it), then the melody's contour, notes and
beats.

Workers fork from a forkserver that has run the extractor once (guard._warm_extractor), so a worker starts
warm and never inherits the server's gRPC threads. (A worker does import the program's main script when the
program was started from a path, as the `guard` console script is: ~1.5 s per worker, once, at start-up.)
A worker found dead is replaced; what a lost worker owed is computed again from the whole track.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from multiprocessing.connection import Connection

import numpy as np
import structlog

from fingerprints import landmarks, melody

log = structlog.get_logger()

_STOP = None


def default_processes() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class WorkerLost(Exception):
    """The worker process died (killed, out of memory) before it answered."""


class WorkersUnavailable(RuntimeError):
    """No worker could be started: the forkserver died while importing its warm-up module."""


class AnalysisWorkers:
    """A fixed set of analysis processes, each serving one track at a time."""

    def __init__(self, processes: int, *, warm_up: str = "guard._warm_extractor") -> None:
        self._warm_up = warm_up
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload([warm_up, "guard.analysis_workers"])
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        for _ in range(processes):
            self._idle.put(self._spawn())

    def start(self, sample_rate: int) -> "TrackAnalysis":
        """The analysis of one track, to feed its samples to as they are decoded. Streamed to a worker when
        one is idle and the rate is the analyses' own; otherwise computed from the whole track when asked."""
        streamable = sample_rate == melody.EXTRACTION_RATE == landmarks.SAMPLE_RATE
        return TrackAnalysis(self, self._checkout(wait=False) if streamable else None)

    def extract_melody(self, samples: np.ndarray, sample_rate: int) -> melody.Melody:
        """The lead melody of a whole recording; NoMelodyFound (raised in the worker) when there is none."""
        for attempt in (1, 2):
            worker = self._checkout(wait=True)
            try:
                worker.post(("extract", samples, sample_rate))
                return worker.answer("melody")
            except WorkerLost:
                log.warning("analysis_worker_lost", attempt=attempt)
            finally:
                self.checkin(worker)
        raise RuntimeError("analysis workers keep dying (out of memory?)")

    def pids(self) -> list[int]:
        """The workers' process ids (diagnostics; the service tests kill one)."""
        with self._lock:
            return [w.pid for w in self._workers]

    def close(self) -> None:
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop()

    def checkin(self, worker: "_Worker") -> None:
        """A worker back from a track; a dead one is replaced."""
        if not worker.alive:
            self._retire(worker)
            worker = self._spawn()
        self._idle.put(worker)

    def _spawn(self) -> "_Worker":
        try:
            worker = _Worker(self._context)
        except (EOFError, ConnectionError) as exc:
            raise WorkersUnavailable(
                f"analysis workers cannot start: their forkserver died while importing {self._warm_up}. Run "
                f"`python -c 'import {self._warm_up}'` to see why. A segmentation fault there is most likely "
                "numba's on-disk cache of librosa's kernels, left broken by two processes compiling it at once "
                "(numba issue 10128): scripts/serve and scripts/test clear and rebuild it when they install."
            ) from exc
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

    def _retire(self, worker: "_Worker") -> None:
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
        worker.stop()


class TrackAnalysis:
    """One track: `feed` the decoded pieces, then `decoded`, then `landmark_spectrogram` (the audio path) and
    `melody` (the melody path, which always runs and hands the worker back); `cancel` when the decode failed."""

    def __init__(self, workers: AnalysisWorkers, worker: "_Worker | None") -> None:
        self._workers = workers
        self._worker = worker
        self._lock = threading.Lock()
        self._spectrogram: np.ndarray | None = None
        self._spectrogram_read = False
        """Whether the worker's spectrogram answer was read (None after that: it is computed here)."""

    def feed(self, samples: np.ndarray) -> None:
        if self._worker is not None:
            self._worker.post(("feed", samples))

    def decoded(self) -> None:
        """Every sample is in: the worker finishes the spectrogram first, then the melody."""
        if self._worker is not None:
            self._worker.post(("spectrogram",))
            self._worker.post(("melody",))

    def landmark_spectrogram(self, samples: np.ndarray) -> np.ndarray:
        """The landmark spectrogram of the whole track, `samples` (computed here if the worker was lost)."""
        with self._lock:
            self._take_spectrogram()
        if self._spectrogram is not None:
            return self._spectrogram
        return landmarks.log_spectrogram(samples)

    def melody(self, samples: np.ndarray, sample_rate: int) -> melody.Melody:
        """The melody of the whole track, `samples` (sent again, whole, to a fresh worker if this one was lost).
        Hands the worker back."""
        with self._lock:
            self._take_spectrogram()  # it comes first on the pipe
            worker, self._worker = self._worker, None
        if worker is not None:
            try:
                return worker.answer("melody")
            except WorkerLost:
                log.warning("analysis_worker_lost", attempt=0)
            finally:
                self._workers.checkin(worker)
        return self._workers.extract_melody(samples, sample_rate)

    def cancel(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.post(("reset",))
            self._workers.checkin(worker)

    def _take_spectrogram(self) -> None:
        if self._worker is None or self._spectrogram_read:
            return
        self._spectrogram_read = True
        try:
            self._spectrogram = self._worker.answer("spectrogram")
        except WorkerLost:
            log.warning("analysis_worker_lost", attempt=0)
        except Exception:  # noqa: BLE001 - the worker's own failure: the spectrogram is computed here instead
            pass


class _Worker:
    """One process and the pipe to it. Requests go out through a sender thread, so feeding never waits for
    the worker; answers come back in the order of the requests."""

    def __init__(self, context) -> None:
        ours, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(theirs,), name="guard-analysis", daemon=True)
        self._process.start()
        theirs.close()
        self._conn: Connection = ours
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._broken = False
        self._sender = threading.Thread(target=self._send, name="guard-analysis-send", daemon=True)
        self._sender.start()
        self.pid = self._process.pid

    @property
    def alive(self) -> bool:
        return not self._broken and self._process.is_alive()

    def post(self, message: tuple) -> None:
        self._outbox.put(message)

    def answer(self, kind: str):
        """The next answer, which must be of this kind; the worker's exception is raised here."""
        try:
            got, ok, value = self._conn.recv()
        except (EOFError, OSError) as exc:
            self._broken = True
            raise WorkerLost from exc
        if got != kind:
            self._broken = True  # out of step: the worker is replaced at check-in
            raise WorkerLost(f"expected a {kind} answer, got {got}")
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        self.post(("stop",))
        self.post(_STOP)
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        self._conn.close()

    def _send(self) -> None:
        while (message := self._outbox.get()) is not _STOP:
            if self._broken:
                continue
            try:
                self._conn.send(message)
            except (OSError, ValueError):
                self._broken = True


def _serve(conn: Connection) -> None:
    """The worker process. Requests: ("feed", samples)*, then ("spectrogram",) and ("melody",), each answered
    (kind, True, result) or (kind, False, exception); ("extract", samples, rate) answered as "melody";
    ("reset",) drops a half-fed track."""
    track: _Track | None = None
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        kind = message[0]
        if kind == "feed":
            track = track or _Track()
            track.feed(message[1])
        elif kind == "spectrogram":
            conn.send(("spectrogram", *_attempt(lambda: (track or _Track()).spectrogram())))
        elif kind == "melody":
            conn.send(("melody", *_attempt(lambda: (track or _Track()).melody())))
            track = None
        elif kind == "extract":
            conn.send(("melody", *_attempt(lambda: melody.extract_melody(message[1], message[2]))))
        elif kind == "reset":
            track = None
        elif kind == "stop":
            return


class _Track:
    """A track being fed, in the worker: both analyses see every piece."""

    def __init__(self) -> None:
        self._extractor = melody.Extractor()
        self._spectrogram = landmarks.Spectrogram()
        self._failure: Exception | None = None

    def feed(self, samples: np.ndarray) -> None:
        if self._failure is None:
            try:
                self._extractor.feed(samples)
                self._spectrogram.feed(samples)
            except Exception as exc:  # reported when a result is asked for
                self._failure = exc

    def spectrogram(self) -> np.ndarray:
        if self._failure is not None:
            raise self._failure
        return self._spectrogram.finish()

    def melody(self) -> melody.Melody:
        if self._failure is not None:
            raise self._failure
        return self._extractor.finish().melody


def _attempt(compute) -> tuple[bool, object]:
    try:
        return True, compute()
    except Exception as exc:
        return False, exc
