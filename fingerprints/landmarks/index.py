"""Candidate stage: an inverted index from constellation keys to reference positions.

Keys are exact-match lookups, which is what an inverted index is for; the
FAISS binary indexes were measured on the same keys and cost 2-3x the
memory per posting (IndexBinaryHash ~38 bytes, IndexBinaryIVF ~16, this
index 6.5) for no gain, since there is no Hamming neighbourhood to
search (docs/landmarks.md, "index").

Layout: postings sorted by key; a directory over the key's top `bits`
bits (~8 postings a bucket) and, per posting, the key's low 16 bits
(uint16) and the anchor's position on a global frame line (uint32).
Each work owns a stretch of that line, so a posting says which work and
where without a work id, and removing a work only drops its stretch from
the table (its postings are skipped, then dropped at the next merge).
Additions go to small segments that are merged once there are more than
MAX_SEGMENTS, as in an LSM tree.

Candidates come from Shazam-style offset voting: every hit votes for
(reference position - query position) in cells of 2^CELL_BITS frames; a
tempo change makes that offset drift (1 s over 10 s at 10%), so a cell
and its neighbour vote together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from fingerprints.atomic import replacing
from fingerprints.landmarks.hashes import Constellations, key_order

CELL_BITS = 6
"""Offset cells of 64 frames (1.5 s)."""
MIN_VOTES = 3
MAX_CELLS = 32
MAX_SEGMENTS = 8
FIRST_BASE = 1 << 20
"""The frame line starts above any query frame, so reference minus query offsets are positive."""
_TABLE_BITS = 20
_RESIDUE_BITS = 16


@dataclass(frozen=True)
class Candidate:
    """A work and the reference frames that several query keys agree on."""

    work_number: int
    first_frame: int
    last_frame: int
    votes: int


@dataclass(frozen=True)
class Search:
    candidates: list[Candidate]
    hit: np.ndarray
    """Per query row: whether its key is in the index."""


@dataclass(frozen=True)
class _Segment:
    directory: np.ndarray
    residues: np.ndarray
    positions: np.ndarray

    @property
    def bits(self) -> int:
        return int(math.log2(len(self.directory) - 1))

    @classmethod
    def build(cls, keys: np.ndarray, positions: np.ndarray) -> "_Segment":
        bits = directory_bits(len(keys))
        order = key_order(keys)
        keys, positions = keys[order], positions[order]
        buckets = keys >> np.uint32(32 - bits)
        directory = np.zeros((1 << bits) + 1, dtype=np.uint32 if len(keys) < 1 << 32 else np.int64)
        np.cumsum(np.bincount(buckets, minlength=1 << bits), out=directory[1:])
        return cls(directory, (keys & np.uint32(0xFFFF)).astype(np.uint16), positions.astype(np.uint32))

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row in `keys`, position) for every posting whose key equals a looked-up key, by row, then slot."""
        return _lookup(self.directory, self.residues, self.positions, np.ascontiguousarray(keys, dtype=np.uint32),
                       self.bits)

    @property
    def nbytes(self) -> int:
        return self.directory.nbytes + self.residues.nbytes + self.positions.nbytes


@numba.njit(cache=True, nogil=True)
def _lookup(directory: np.ndarray, residues: np.ndarray, positions: np.ndarray, keys: np.ndarray,
            bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Scan each key's bucket for its residue, twice: to count the hits, then to fill them in."""
    shift = 32 - bits
    found = 0
    for key in keys:
        bucket = key >> shift
        residue = key & 0xFFFF
        for slot in range(directory[bucket], directory[bucket + 1]):
            if residues[slot] == residue:
                found += 1
    rows = np.empty(found, dtype=np.int64)
    places = np.empty(found, dtype=np.int64)
    at = 0
    for row in range(len(keys)):
        bucket = keys[row] >> shift
        residue = keys[row] & 0xFFFF
        for slot in range(directory[bucket], directory[bucket + 1]):
            if residues[slot] == residue:
                rows[at] = row
                places[at] = positions[slot]
                at += 1
    return rows, places


def directory_bits(postings: int) -> int:
    """About 8 postings a bucket (the directory costs ~0.5 byte a posting, a lookup scans ~8), and
    at least 16 bits so that bucket and 16-bit residue together hold the whole key, which merging needs."""
    return min(28, max(16, math.ceil(math.log2(max(postings, 1))) - 3))


class LandmarkIndex:
    """Inverted index over reference constellations; rebuilt from stored fingerprints whenever in doubt."""

    def __init__(self, segments: list[_Segment], works: dict[int, tuple[int, int]], next_base: int) -> None:
        self._segments = segments
        self._works = works
        self._next_base = next_base
        self._refresh_table()

    @classmethod
    def empty(cls) -> "LandmarkIndex":
        return cls([], {}, FIRST_BASE)

    @property
    def size(self) -> int:
        return sum(len(s.positions) for s in self._segments)

    def add_many(self, items: list[tuple[int, Constellations, int]]) -> None:
        """Index several works as one segment: (work number, its constellations, its length in frames)."""
        keys, positions = [], []
        for number, constellations, frames in items:
            if number in self._works:
                self.remove(number)
            base = self._next_base
            if base + frames >= 1 << 32:
                raise ValueError("the frame line is full; rebuild the index from the stored fingerprints")
            self._works[number] = (base, frames)
            self._next_base = base + frames + 1
            keys.append(constellations.keys)
            positions.append(constellations.frames + base)
        self._refresh_table()
        if keys:
            self._segments.append(_Segment.build(np.concatenate(keys), np.concatenate(positions)))
        if len(self._segments) > MAX_SEGMENTS:
            self._merge()

    def remove(self, work_number: int) -> None:
        if self._works.pop(work_number, None) is not None:
            self._refresh_table()

    def candidates(self, query: Constellations) -> list[Candidate]:
        """Reference stretches that many query keys point to at a consistent offset, best first."""
        return self.search(query).candidates

    def search(self, query: Constellations) -> Search:
        """The candidates, and which query rows found any posting at all (the only ones that can pair
        with a reference's keys in verification)."""
        rows, positions = self._lookup(query.keys)
        hit = np.zeros(len(query), dtype=bool)
        hit[rows] = True
        return Search(self._vote(query, rows, positions), hit)

    def _vote(self, query: Constellations, rows: np.ndarray, positions: np.ndarray) -> list[Candidate]:
        if not len(rows):
            return []
        cells = (positions - query.frames[rows]) >> CELL_BITS
        table = cells & ((1 << _TABLE_BITS) - 1)
        votes = np.bincount(table, minlength=1 << _TABLE_BITS)
        paired = votes + np.roll(votes, -1)
        top = np.flatnonzero(paired >= MIN_VOTES)
        if not len(top):
            return []
        if len(top) > MAX_CELLS:
            # Selecting among the few voted cells only: argpartition over the whole, mostly-zero table
            # degrades to ~0.3 s on its many equal values.
            top = top[np.argpartition(paired[top], -MAX_CELLS)[-MAX_CELLS:]]
        winning = np.zeros(1 << _TABLE_BITS, dtype=bool)
        winning[top] = True
        winning[(top + 1) & ((1 << _TABLE_BITS) - 1)] = True
        chosen = winning[table]
        return self._regions(cells[chosen], positions[chosen])

    def _lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        found = [segment.lookup(keys) for segment in self._segments]
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate([r for r, _ in found]), np.concatenate([p for _, p in found])

    def _regions(self, cells: np.ndarray, positions: np.ndarray) -> list[Candidate]:
        """Group hits of the winning cells (each with its neighbour) by live work and cell."""
        slot = self._work_of(positions)
        found: list[Candidate] = []
        keys = np.unique(cells)
        for cell in keys.tolist():
            here = (cells == cell) | (cells == cell + 1)
            for s in np.unique(slot[here & (slot >= 0)]).tolist():
                mine = here & (slot == s)
                votes = int(mine.sum())
                if votes < MIN_VOTES:
                    continue
                base = int(self._bases[s])
                found.append(Candidate(int(self._numbers[s]), int(positions[mine].min()) - base,
                                       int(positions[mine].max()) - base, votes))
        found.sort(key=lambda c: -c.votes)
        return found

    def _work_of(self, positions: np.ndarray) -> np.ndarray:
        """Index into the live-work table for each global position, -1 where no live work owns it."""
        slot = np.searchsorted(self._bases, positions, side="right") - 1
        inside = (slot >= 0) & (positions < self._ends[np.maximum(slot, 0)])
        return np.where(inside, slot, -1)

    def _refresh_table(self) -> None:
        ordered = sorted((base, base + frames, number) for number, (base, frames) in self._works.items())
        self._bases = np.array([o[0] for o in ordered], dtype=np.int64)
        self._ends = np.array([o[1] for o in ordered], dtype=np.int64)
        self._numbers = np.array([o[2] for o in ordered], dtype=np.int64)

    def _merge(self) -> None:
        """One segment from all, without the postings of removed works."""
        keys, positions = [], []
        for segment in self._segments:
            bucket_of = np.repeat(np.arange(len(segment.directory) - 1, dtype=np.uint32),
                                  np.diff(segment.directory.astype(np.int64)))
            high = bucket_of.astype(np.uint32) << np.uint32(32 - segment.bits)
            low = segment.residues.astype(np.uint32) & np.uint32((1 << max(0, 32 - segment.bits)) - 1)
            keys.append(high | low)
            positions.append(segment.positions.astype(np.int64))
        keys_all, positions_all = np.concatenate(keys), np.concatenate(positions)
        live = self._work_of(positions_all) >= 0
        self._segments = [_Segment.build(keys_all[live], positions_all[live])]

    def memory_bytes(self) -> int:
        return sum(s.nbytes for s in self._segments) + 24 * len(self._works)

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {
            "works": np.array([(n, b, f) for n, (b, f) in sorted(self._works.items())], dtype=np.int64).reshape(-1, 3),
            "next_base": np.array([self._next_base], dtype=np.int64),
        }
        for i, s in enumerate(self._segments):
            arrays[f"directory{i}"], arrays[f"residues{i}"] = s.directory, s.residues
            arrays[f"positions{i}"] = s.positions
        with replacing(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: Path) -> "LandmarkIndex":
        with np.load(path) as data:
            count = sum(1 for name in data.files if name.startswith("directory"))
            segments = [_Segment(data[f"directory{i}"], data[f"residues{i}"], data[f"positions{i}"])
                        for i in range(count)]
            works = {int(n): (int(b), int(f)) for n, b, f in data["works"]}
            return cls(segments, works, int(data["next_base"][0]))
