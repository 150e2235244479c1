"""Alignment stage: key hits in, the transforms that explain them (pitch shift, tempo ratio, offset) out.

Every hit pairs a query constellation with a reference one, so on its own
it estimates the pitch shift (anchor bin difference) and, noisily, the
tempo ratio (ratio of the constellations' durations). Hits of one reused
stretch agree on the pitch shift and lie on one line
reference frame = tempo * query frame + offset. Hits are clustered on
(pitch bin, offset cell) first, which holds for any tempo over a few
seconds; the line is then fitted robustly to the cluster and extended to
every hit near it, so a long tempo-changed stretch is one transform.
Clusters are taken greedily until none is supported by MIN_HITS hits,
so fragments of one work at different offsets each get their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fingerprints.landmarks.hashes import Constellations

MIN_HITS = 3
"""Hits on one line that make a transform worth verifying. Verification decides; this only bounds its work
(measured on the landmark benchmark's 0 dB mixes: with 4, 39 of 200 got no transform of the true work;
with 3, 29; with 2, 27)."""
PITCH_TOLERANCE_BINS = 1.5
LINE_TOLERANCE_FRAMES = 8
SEED_CELL_FRAMES = 64
MAX_TEMPO_RATIO = 1.5
"""Tempo ratios fitted are kept within 1/1.5..1.5: "slowed" and "sped up" edits of a song run at 0.7-0.8 and
1.25-1.35 of its speed. Within 0.75..1.25 a 30% slower copy was found 23 times of 200 (docs/landmarks.md)."""
MIN_SLOPE_SPREAD_FRAMES = 86
"""Fit the tempo from the hits' positions only when they span 2 s or more; below that the
durations of the constellations estimate it better."""
MAX_TRANSFORMS = 8


@dataclass(frozen=True)
class Hits:
    """Pairs of equal keys: query anchor frame/bin/span against reference anchor frame/bin/span."""

    query_frames: np.ndarray
    query_bins: np.ndarray
    query_spans: np.ndarray
    reference_frames: np.ndarray
    reference_bins: np.ndarray
    reference_spans: np.ndarray

    def __len__(self) -> int:
        return len(self.query_frames)


@dataclass(frozen=True)
class Transform:
    """reference frame = tempo * query frame + offset; reference bin = query bin - pitch_bins."""

    pitch_bins: float
    tempo: float
    offset: float
    first_frame: int
    last_frame: int
    support: int

    def inverse(self) -> "Transform":
        """The same correspondence the other way round (query frame and bin from the reference's), its frame
        range in reference frames."""
        return Transform(-self.pitch_bins, 1.0 / self.tempo, -self.offset / self.tempo,
                         int(round(self.tempo * self.first_frame + self.offset)),
                         int(round(self.tempo * self.last_frame + self.offset)), self.support)


def join(query: Constellations, reference: Constellations) -> Hits:
    """All (query row, reference row) pairs with equal keys; `query` must be sorted by key."""
    lo = np.searchsorted(query.keys, reference.keys, side="left")
    counts = np.searchsorted(query.keys, reference.keys, side="right") - lo
    ref_rows = np.repeat(np.arange(len(reference)), counts)
    total = int(counts.sum())
    q_rows = np.arange(total) + np.repeat(lo - (np.cumsum(counts) - counts), counts)
    return Hits(query.frames[q_rows], query.bins[q_rows], query.spans[q_rows],
                reference.frames[ref_rows], reference.bins[ref_rows], reference.spans[ref_rows])


def transforms(hits: Hits) -> list[Transform]:
    """The transforms several hits agree on, best supported first."""
    pitch = hits.query_bins - hits.reference_bins
    qf = hits.query_frames.astype(np.float64)
    rf = hits.reference_frames.astype(np.float64)
    remaining = np.ones(len(hits), dtype=bool)
    found: list[Transform] = []
    while remaining.sum() >= MIN_HITS and len(found) < MAX_TRANSFORMS:
        seed = _densest_cluster(pitch, rf - qf, remaining)
        if seed.sum() < MIN_HITS:
            break
        shift = float(np.median(pitch[seed]))
        tempo = _tempo(qf[seed], rf[seed], hits.query_spans[seed], hits.reference_spans[seed])
        offset = float(np.median(rf[seed] - tempo * qf[seed]))
        inliers = remaining & (np.abs(pitch - shift) <= PITCH_TOLERANCE_BINS)
        for _ in range(2):
            on_line = inliers & (np.abs(rf - (tempo * qf + offset)) <= LINE_TOLERANCE_FRAMES)
            if on_line.sum() < MIN_HITS:
                break
            tempo = _tempo(qf[on_line], rf[on_line], hits.query_spans[on_line], hits.reference_spans[on_line])
            offset = float(np.median(rf[on_line] - tempo * qf[on_line]))
        on_line = inliers & (np.abs(rf - (tempo * qf + offset)) <= LINE_TOLERANCE_FRAMES)
        remaining &= ~(on_line | seed)
        if on_line.sum() < MIN_HITS:
            continue
        found.append(Transform(float(np.median(pitch[on_line])), tempo, offset,
                               int(qf[on_line].min()), int(qf[on_line].max()), int(on_line.sum())))
    return found


def _densest_cluster(pitch: np.ndarray, offset: np.ndarray, remaining: np.ndarray) -> np.ndarray:
    """Remaining hits in the best supported neighbourhood of (pitch bin +-1, offset cell and the next)."""
    p = np.round(pitch).astype(np.int64)
    c = np.floor(offset / SEED_CELL_FRAMES).astype(np.int64)
    codes = (p << 40) + c
    cells, counts = np.unique(codes[remaining], return_counts=True)
    support = np.zeros(len(cells), dtype=np.int64)
    for dp in (-1, 0, 1):
        for dc in (0, 1):
            neighbour = cells + (dp << 40) + dc
            at = np.minimum(np.searchsorted(cells, neighbour), len(cells) - 1)
            support += np.where(cells[at] == neighbour, counts[at], 0)
    best = int(np.argmax(support))
    if support[best] < MIN_HITS:
        return np.zeros(len(pitch), dtype=bool)
    i = int(np.flatnonzero(remaining & (codes == cells[best]))[0])
    return remaining & (np.abs(p - p[i]) <= 1) & ((c == c[i]) | (c == c[i] + 1))


def _tempo(qf: np.ndarray, rf: np.ndarray, q_spans: np.ndarray, r_spans: np.ndarray) -> float:
    """Reference frames per query frame: a robust slope when the hits spread far enough, else the
    median ratio of constellation durations."""
    if qf.max() - qf.min() >= MIN_SLOPE_SPREAD_FRAMES:
        i, j = _pairs(len(qf))
        dq = qf[j] - qf[i]
        usable = np.abs(dq) >= MIN_SLOPE_SPREAD_FRAMES / 4
        if usable.sum() >= MIN_HITS:
            return _clip(float(np.median((rf[j] - rf[i])[usable] / dq[usable])))
    return _clip(float(np.exp(np.median(np.log(r_spans / q_spans)))))


def _clip(tempo: float) -> float:
    return float(np.clip(tempo, 1 / MAX_TEMPO_RATIO, MAX_TEMPO_RATIO))


def _pairs(n: int, limit: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """All pairs of n points, or a fixed pseudo-random sample of `limit` of them (Theil-Sen)."""
    if n * (n - 1) // 2 <= limit:
        i, j = np.triu_indices(n, 1)
        return i, j
    rng = np.random.default_rng(n)
    i = rng.integers(0, n, limit)
    j = rng.integers(0, n, limit)
    keep = i != j
    return i[keep], j[keep]
