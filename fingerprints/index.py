"""Candidate stage: a FAISS binary IVF index over short windows of sub-fingerprints.

Each indexed vector is WINDOW consecutive 32-bit codes (128 bits, ~0.5 s of
audio) taken every REFERENCE_STRIDE frames of a reference; a query probes
with a window at every frame, so every REFERENCE_STRIDE-th query window
lines up with an indexed one. Under everyday processing a window differs
from its source in ~5% of its bits against ~45% for unrelated audio, so a
Hamming nearest-neighbour search finds the source with a handful of
probes. Why IVF and not FAISS's hash indexes: measured on this machine,
IndexBinaryHash costs ~91 bytes per vector (its hash map) against ~45 for
IndexBinaryIVF, and cannot remove vectors when a work is retired
(docs/benchmarks.md has the figures).

A vector's id packs the work's catalog number and the frame offset, so a
hit says which work and where without a side table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from fingerprints.atomic import replacing

WINDOW = 4
BITS = WINDOW * 32
REFERENCE_STRIDE = 2
NEIGHBOURS = 4
MAX_HAMMING = 40
"""A window hit farther than this (of 128 bits) is not a candidate; unrelated audio sits near 58."""

SINGLE_THREAD_WINDOWS = 512
"""Queries of up to this many windows (~63 s of audio) are searched on one thread; see AudioIndex._search."""

_FRAME_BITS = 24
_FRAME_MASK = (1 << _FRAME_BITS) - 1
_MIN_DISTINCT_CODES = 3
_TRAINING_POINTS_PER_LIST = 64
_MAX_LISTS = 65_536


@dataclass(frozen=True)
class Candidate:
    """A (work, alignment) pair suggested by the index, with its supporting hits."""

    work_number: int
    offset: int
    """Reference frame minus query frame."""
    votes: int


def windows(codes: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Informative windows of `codes` taken every `stride` frames, as packed bits, and their start frames.

    A window of near-constant codes (silence, a held tone, DC) carries no
    identity and would match every other such window, so it is skipped.
    """
    count = len(codes) - WINDOW + 1
    if count <= 0:
        return np.zeros((0, BITS // 8), dtype=np.uint8), np.zeros(0, dtype=np.int64)
    starts = np.arange(0, count, stride, dtype=np.int64)
    stacked = np.stack([codes[starts + k] for k in range(WINDOW)], axis=1).astype("<u4")
    distinct = np.ones(len(starts), dtype=np.int64)
    for k in range(1, WINDOW):
        distinct += (stacked[:, k:k + 1] != stacked[:, :k]).all(axis=1)
    keep = distinct >= _MIN_DISTINCT_CODES
    packed = np.ascontiguousarray(stacked[keep]).view(np.uint8).reshape(-1, BITS // 8)
    return packed, starts[keep]


def vector_ids(work_number: int, starts: np.ndarray) -> np.ndarray:
    if np.any(starts > _FRAME_MASK):
        raise ValueError("reference longer than the index can address")
    return (np.int64(work_number) << _FRAME_BITS) | starts


class AudioIndex:
    """Binary IVF over reference windows; rebuilt from stored fingerprints whenever in doubt."""

    def __init__(self, index: faiss.IndexBinaryIVF, nprobe: int = 8) -> None:
        self._index = index
        self._index.nprobe = min(nprobe, index.nlist)

    @classmethod
    def build(cls, references: Iterable[tuple[int, np.ndarray]], *, seed: int = 0) -> "AudioIndex":
        """Train the coarse quantizer on the references themselves and add them all."""
        parts = [(n, windows(codes, REFERENCE_STRIDE)) for n, codes in references]
        vectors = np.concatenate([w for _, (w, _) in parts]) if parts else np.zeros((0, BITS // 8), np.uint8)
        nlist = lists_for(len(vectors))
        quantizer = faiss.IndexBinaryFlat(BITS)
        ivf = faiss.IndexBinaryIVF(quantizer, BITS, nlist)
        if nlist == 1:
            quantizer.add(np.zeros((1, BITS // 8), dtype=np.uint8))
        ivf.train(_training_sample(vectors, nlist, seed))
        index = cls(ivf)
        for number, (vecs, starts) in parts:
            if len(vecs):
                ivf.add_with_ids(vecs, vector_ids(number, starts))
        return index

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def lists(self) -> int:
        return int(self._index.nlist)

    @property
    def outgrown(self) -> bool:
        """True once the catalog has grown enough that a retrained index would probe far fewer vectors."""
        return lists_for(self.size) >= 4 * self.lists

    def add(self, work_number: int, codes: np.ndarray) -> None:
        """Add one work; a work's few hundred windows are assigned to lists on this thread alone (see _search)."""
        vecs, starts = windows(codes, REFERENCE_STRIDE)
        if len(vecs):
            with _threads(1 if len(vecs) <= SINGLE_THREAD_WINDOWS * 8 else 0):
                self._index.add_with_ids(vecs, vector_ids(work_number, starts))

    def remove(self, work_number: int) -> None:
        low = int(work_number) << _FRAME_BITS
        self._index.remove_ids(faiss.IDSelectorRange(low, low + _FRAME_MASK + 1))

    def candidates(self, codes: np.ndarray, *, limit: int = 16) -> list[Candidate]:
        """Alignments that several query windows agree on, best supported first."""
        vecs, starts = windows(codes, 1)
        if not len(vecs) or not self.size:
            return []
        distances, ids = self._search(vecs)
        hit = (ids >= 0) & (distances <= MAX_HAMMING)
        query_frames = np.broadcast_to(starts[:, None], ids.shape)[hit]
        found = ids[hit]
        works = found >> _FRAME_BITS
        offsets = (found & _FRAME_MASK) - query_frames
        votes: dict[tuple[int, int], int] = {}
        for work, offset in zip(works.tolist(), offsets.tolist()):
            votes[(work, offset)] = votes.get((work, offset), 0) + 1
        ranked = sorted(votes.items(), key=lambda kv: -kv[1])
        chosen: list[Candidate] = []
        for (work, offset), count in ranked:
            if any(c.work_number == work and abs(c.offset - offset) <= REFERENCE_STRIDE for c in chosen):
                continue
            chosen.append(Candidate(work, offset, count))
            if len(chosen) == limit:
                break
        return chosen

    def _search(self, vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """FAISS search, on this thread alone for a query of up to SINGLE_THREAD_WINDOWS windows.

        FAISS splits a search over OpenMP threads (one per core), which pays when there are
        thousands of query vectors. A 10 s query has ~56; split over two cores, the search waits
        at OpenMP's barriers for whichever core is busy, and on a loaded 2-core machine that was
        most of the time: at 5,000 h of reference, p50 86 ms with two threads against 8.5 ms with
        one (docs/benchmarks.md, candidate search at scale). A screening server gets its
        parallelism from concurrent requests anyway.
        """
        with _threads(1 if len(vecs) <= SINGLE_THREAD_WINDOWS else 0):
            return self._index.search(vecs, NEIGHBOURS)

    def memory_bytes(self) -> int:
        """Bytes held by the inverted lists and the coarse quantizer."""
        invlists = self._index.invlists
        total = 0
        for i in range(self._index.nlist):
            total += invlists.list_size(i) * (invlists.code_size + 8)
        return total + self._index.nlist * (BITS // 8)

    def save(self, path: Path) -> None:
        with replacing(path) as tmp:
            faiss.write_index_binary(self._index, tmp)

    @classmethod
    def load(cls, path: Path) -> "AudioIndex":
        index = faiss.read_index_binary(str(path))
        if not isinstance(index, faiss.IndexBinaryIVF):
            index = faiss.downcast_IndexBinary(index)
        return cls(index)


@contextmanager
def _threads(count: int) -> Iterator[None]:
    """FAISS's OpenMP thread count for the calling thread while the block runs (0: leave it alone).

    libgomp keeps the count per calling thread, so other threads (other requests) are unaffected.
    """
    if count <= 0:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def lists_for(vectors: int) -> int:
    """About 4 * sqrt(N) inverted lists (FAISS's rule of thumb), with at least 39 training points
    each (FAISS's minimum), as a power of two."""
    wanted = min(4 * math.sqrt(vectors), vectors / 39, _MAX_LISTS)
    return 1 if wanted < 2 else 2 ** int(math.log2(wanted))


def _training_sample(vectors: np.ndarray, nlist: int, seed: int) -> np.ndarray:
    if nlist == 1:
        return np.zeros((1, BITS // 8), dtype=np.uint8)
    wanted = min(len(vectors), nlist * _TRAINING_POINTS_PER_LIST)
    rng = np.random.default_rng(seed)
    return vectors[rng.choice(len(vectors), wanted, replace=False)]
