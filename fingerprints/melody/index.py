"""Candidate stage: a FAISS IVF index over pitch windows of every catalog melody.

Each vector is one reference window (represent.windows: 16 duration-weighted pitch samples over 8 units,
mean removed), anchored at a note that starts on a beat. A query is cut into windows at every one of its
notes and at several tempo ratios, so some query windows start on the same notes as indexed ones whatever
the tempo and the phase. Vectors are stored as 8-bit scalars (16 bytes each): the 0.1-semitone steps are
far below what separates melodies. A vector's id packs the work number and the anchor note.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import faiss
import numpy as np

from fingerprints.melody.represent import DIM

_NOTE_BITS = 20
_NOTE_MASK = (1 << _NOTE_BITS) - 1
_TRAINING_POINTS_PER_LIST = 64
_MAX_LISTS = 16_384
NPROBE = 16
FLAT_MAX_VECTORS = 100_000
"""Up to this many windows (a few hundred tunes) the index is exact (flat); beyond, IVF-SQ8 trained on the
windows themselves."""


def vector_ids(work_number: int, anchors: np.ndarray) -> np.ndarray:
    if np.any(anchors > _NOTE_MASK):
        raise ValueError("reference melody longer than the index can address")
    return (np.int64(work_number) << _NOTE_BITS) | anchors.astype(np.int64)


def split_ids(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return ids >> _NOTE_BITS, ids & _NOTE_MASK


class MelodyIndex:
    """IVF-SQ8 over reference windows; rebuilt from stored melodies whenever in doubt."""

    def __init__(self, index, nprobe: int = NPROBE) -> None:
        self._index = index
        if isinstance(index, faiss.IndexIVF):
            self._index.nprobe = min(nprobe, index.nlist)

    @classmethod
    def build(cls, entries: Iterable[tuple[int, np.ndarray, np.ndarray]], *, seed: int = 0,
              nprobe: int = NPROBE) -> "MelodyIndex":
        """Train the coarse quantizer and the scalar ranges on the references themselves and add them all."""
        parts = [(n, v, a) for n, v, a in entries if len(v)]
        vectors = np.concatenate([v for _, v, _ in parts]) if parts else np.zeros((0, DIM), np.float32)
        if len(vectors) <= FLAT_MAX_VECTORS:
            index = cls(faiss.IndexIDMap2(faiss.IndexFlatL2(DIM)), nprobe)
            for number, vecs, anchors in parts:
                index.add(number, vecs, anchors)
            return index
        nlist = lists_for(len(vectors))
        quantizer = faiss.IndexFlatL2(DIM)
        ivf = faiss.IndexIVFScalarQuantizer(quantizer, DIM, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_L2)
        ivf.train(_training_sample(vectors, nlist, seed))
        index = cls(ivf, nprobe)
        if parts:
            ids = np.concatenate([vector_ids(n, a) for n, _, a in parts])
            ivf.add_with_ids(np.ascontiguousarray(vectors, np.float32), ids)
        return index

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def lists(self) -> int:
        return int(getattr(self._index, "nlist", 1))

    @property
    def outgrown(self) -> bool:
        """True once the catalog has grown enough that a retrained index would be much faster (a flat index
        past FLAT_MAX_VECTORS, an IVF index with four times too few lists)."""
        if not isinstance(self._index, faiss.IndexIVF):
            return self.size > 2 * FLAT_MAX_VECTORS
        return lists_for(self.size) >= 4 * self.lists

    def add(self, work_number: int, vectors: np.ndarray, anchors: np.ndarray) -> None:
        if len(vectors):
            self._index.add_with_ids(np.ascontiguousarray(vectors, np.float32), vector_ids(work_number, anchors))

    def remove(self, work_number: int) -> None:
        low = int(work_number) << _NOTE_BITS
        self._index.remove_ids(faiss.IDSelectorRange(low, low + _NOTE_MASK + 1))

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Squared L2 distances and ids of the k nearest reference windows of each query window."""
        if not len(vectors) or not self.size:
            return np.zeros((len(vectors), 0), np.float32), np.zeros((len(vectors), 0), np.int64)
        return self._index.search(np.ascontiguousarray(vectors, np.float32), k)

    def memory_bytes(self) -> int:
        if not isinstance(self._index, faiss.IndexIVF):
            return self.size * (DIM * 4 + 16)
        invlists = self._index.invlists
        total = 0
        for i in range(self._index.nlist):
            total += invlists.list_size(i) * (invlists.code_size + 8)
        return total + self._index.nlist * DIM * 4


def lists_for(vectors: int) -> int:
    """About sqrt(N) inverted lists, with at least 39 training points each, as a power of two (FAISS's
    4 * sqrt(N) made adding 1.6 million windows four times slower for no gain in candidate recall here)."""
    wanted = min(math.sqrt(max(vectors, 1)), vectors / 39, _MAX_LISTS)
    return 1 if wanted < 2 else 2 ** int(math.log2(wanted))


def _training_sample(vectors: np.ndarray, nlist: int, seed: int) -> np.ndarray:
    if len(vectors) == 0:
        return np.zeros((max(1, nlist), DIM), np.float32)
    wanted = min(len(vectors), nlist * _TRAINING_POINTS_PER_LIST)
    rng = np.random.default_rng(seed)
    return np.ascontiguousarray(vectors[rng.choice(len(vectors), wanted, replace=False)], np.float32)
