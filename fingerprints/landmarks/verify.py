"""Verify stage: a transform in, the stretches of the query it explains peak by peak, scored.

Keys only nominate a transform; the evidence is how many of the query's
peaks land on a reference peak once moved by it (within +-1 frame and
+-half a bin, where 97% of true landings fall under every transformation
measured), against how many land on one when moved by decoy
transforms (the same transform displaced in time and pitch). The decoys
measure the chance rate for this very query and reference, whatever
their density and repetitiveness. A stretch is where the smoothed rate
of landing stays well above chance; its evidence is the binomial
surprise of its landings at the chance rate, and its score comes from
the calibrated null model (NullModel): the probability that a stretch
of unrelated music shows that much evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom

from fingerprints.landmarks.align import Transform
from fingerprints.landmarks.peaks import LandmarkFingerprint
from fingerprints.landmarks.spectrum import BINS

MATCH_FRAMES = 1
MATCH_HALF_BINS = 1
"""Landing tolerance: +-1 frame and +-1 half-bin (positions are compared at half-bin resolution)."""
SEARCH_MARGIN_FRAMES = 130
"""Peaks up to 3 s either side of the hits that found a transform are checked too: hits are
sparser than peaks, so a stretch usually extends beyond its first and last hit."""
SMOOTHING_FRAMES = 43
"""The landing rate is averaged over +-1 s of query."""
MIN_EXCESS = 0.12
"""A peak belongs to a stretch when the smoothed landing rate beats chance by this much."""
EDGE_SHARE = 0.5
"""A stretch ends where the smoothed landing rate falls below half its best inside the stretch: music in
the same key and metre as the reference lands well above chance, so the absolute threshold alone lets a
quotation's span run on a second or two into whatever follows it."""
MAX_GAP_FRAMES = 65
MIN_PEAKS = 12
_DECOY_FRAMES = (-151, -97, -53, 53, 97, 151)
_DECOY_BINS = (-8, 8)


@dataclass(frozen=True)
class NullModel:
    """P(a stretch of unrelated music shows evidence >= e) ~= min(1, scale * 10 ** (-slope * e)).

    The binomial evidence assumes independent peaks; music is not, so
    unrelated stretches reach far more evidence than the binomial promises
    (the 99th percentile is 17, i.e. "1e-17"). The exponential tail was
    fitted by maximum likelihood to the top 1% of the 3,066 stretches that
    verification examined for 4,704 unrelated queries during the design (the
    prototype's calibration split, commit eba1150): slope 0.114 per unit of
    evidence. scripts/bench/calibrate_landmarks.py re-measures the tail on the
    landmark benchmark's unrelated music and counts the windows this model and
    the re-fitted ones would report (docs/benchmarks.md): how heavy the tail is
    depends on the music, so refit on the music a deployment screens.
    """

    scale: float = 0.940
    slope: float = 0.1142

    def false_match_probability(self, stretch: "Stretch", trials: int) -> float:
        return min(1.0, max(1, trials) * self.scale * 10 ** (-self.slope * stretch.evidence))


NULL_MODEL = NullModel()


@dataclass(frozen=True)
class Stretch:
    """Query frames first..last that a transform explains: `landed` of `peaks` peaks, chance rate `chance`."""

    first_frame: int
    last_frame: int
    peaks: int
    landed: int
    chance: float

    @property
    def evidence(self) -> float:
        """-log10 of the binomial probability of landing this often by chance."""
        tail = binom.sf(self.landed - 1, self.peaks, self.chance)
        return float(-math.log10(max(tail, 1e-300)))


@dataclass(frozen=True)
class Landings:
    """Where a moved query peak counts as landing on one reference: a grid over (frame, half-bin) marking
    every position within the landing tolerance of a reference peak, so one lookup per peak decides.
    Built once per reference and query, shared by every transform and decoy."""

    grid: np.ndarray
    last_frame: int

    @classmethod
    def of(cls, reference: LandmarkFingerprint) -> "Landings":
        frames = reference.frames
        half_bins = np.round(reference.bins * 2).astype(np.int64)
        last = int(frames[-1]) if len(frames) else -1
        grid = np.zeros((last + 1 + 2 * MATCH_FRAMES, 2 * BINS + 1 + 2 * MATCH_HALF_BINS), dtype=bool)
        for dt in range(2 * MATCH_FRAMES + 1):
            for db in range(2 * MATCH_HALF_BINS + 1):
                grid[frames + dt, half_bins + db] = True
        return cls(grid, last)

    def landed(self, frames: np.ndarray, bins: np.ndarray, transform: Transform, shift_frames: float = 0.0,
               shift_bins: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Which query peaks land on a reference peak under the (displaced) transform, and which land
        inside the reference at all."""
        target_frames = np.round(transform.tempo * frames + transform.offset + shift_frames).astype(np.int64)
        target_half_bins = np.round((bins - transform.pitch_bins + shift_bins) * 2).astype(np.int64)
        inside = (target_frames >= 0) & (target_frames <= self.last_frame)
        rows, cols = target_frames + MATCH_FRAMES, target_half_bins + MATCH_HALF_BINS
        on_grid = inside & (cols >= 0) & (cols < self.grid.shape[1])
        hit = np.zeros(len(frames), dtype=bool)
        hit[on_grid] = self.grid[rows[on_grid], cols[on_grid]]
        return hit, inside


def stretches(query: LandmarkFingerprint, reference: Landings, transform: Transform) -> list[Stretch]:
    """The stretches of the query around `transform`'s hits that land on the reference."""
    frames, bins = query.frames, query.bins
    lo = np.searchsorted(frames, transform.first_frame - SEARCH_MARGIN_FRAMES)
    hi = np.searchsorted(frames, transform.last_frame + SEARCH_MARGIN_FRAMES, side="right")
    frames, bins = frames[lo:hi], bins[lo:hi]
    landed, inside = reference.landed(frames, bins, transform)
    decoys = [reference.landed(frames, bins, transform, shift_frames=dt) for dt in _DECOY_FRAMES]
    decoys += [reference.landed(frames, bins, transform, shift_bins=db) for db in _DECOY_BINS]
    chance_hits = sum(int((d & i).sum()) for d, i in decoys)
    chance_total = sum(int(i.sum()) for _, i in decoys)
    chance = (chance_hits + 1) / (chance_total + 2)
    frames, landed = frames[inside], landed[inside]
    if len(frames) < MIN_PEAKS:
        return []
    rate = _smoothed(frames, landed.astype(np.float64))
    good = rate >= chance + MIN_EXCESS
    found = []
    for start, end in _runs(frames, good):
        core = np.flatnonzero(rate[start:end] >= EDGE_SHARE * rate[start:end].max()) + start
        start, end = int(core[0]), int(core[-1]) + 1
        hit = np.flatnonzero(landed[start:end]) + start
        if len(hit) == 0:
            continue
        a, b = int(hit[0]), int(hit[-1]) + 1
        if b - a >= MIN_PEAKS:
            found.append(Stretch(int(frames[a]), int(frames[b - 1]), b - a, int(landed[a:b].sum()), chance))
    return found


def _smoothed(frames: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mean of `values` over the peaks within +-SMOOTHING_FRAMES of each peak."""
    csum = np.concatenate([[0.0], np.cumsum(values)])
    lo = np.searchsorted(frames, frames - SMOOTHING_FRAMES)
    hi = np.searchsorted(frames, frames + SMOOTHING_FRAMES, side="right")
    return (csum[hi] - csum[lo]) / np.maximum(hi - lo, 1)


def _runs(frames: np.ndarray, good: np.ndarray) -> list[tuple[int, int]]:
    """Runs of good peaks (as index ranges), joined across gaps shorter than MAX_GAP_FRAMES and
    across silence of any length (no peak in between says nothing against the match)."""
    idx = np.flatnonzero(good)
    if not len(idx):
        return []
    runs = []
    start = prev = int(idx[0])
    for i in idx[1:].tolist():
        if i > prev + 1 and frames[i] - frames[prev] > MAX_GAP_FRAMES:
            runs.append((start, prev + 1))
            start = i
        prev = i
    runs.append((start, prev + 1))
    return runs
