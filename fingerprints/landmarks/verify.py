"""Verify stage: a transform in, the stretches it explains peak by peak, scored.

Keys only nominate a transform; the evidence is how many points of one
recording, moved by it, land on points of the other (within +-1 frame and
+-half a bin), against how many land when moved by decoy transforms (the
same transform displaced in time and pitch). The decoys measure the chance
rate for this very query and reference, whatever their density and
repetitiveness. It is counted both ways, each way with its own null model,
and every stretch either way counts as a trial:

- "peaks": the query's peaks on the reference's peaks. Sparse against
  sparse, so chance is low and a clean copy of a few seconds stands out;
  but other material in the query (a recording mixed over the copy)
  brings peaks of its own and takes the place of the copy's, and each
  costs the copy;
- "maxima": the reference's peaks on the query's local maxima
  (peaks.find_maxima). At equal loudness under other music only a quarter
  of a reference's peaks stay peaks of the mix, but most still top their
  immediate neighbourhood; what is mixed over the copy costs nothing
  except through the decoys, which charge for the maxima's density.

A stretch is where the smoothed rate of landing stays well above chance;
its evidence is the binomial surprise of its landings at the chance rate,
and its score comes from the calibrated null model (NullModel): the
probability that a stretch of unrelated music shows that much evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
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
REFINE_TEMPO = np.linspace(-0.04, 0.04, 17)
REFINE_OFFSET_FRAMES = np.arange(-2, 3)
"""The grid `refined` searches: tempo within 4% in steps of 0.5%, offset within 2 frames. Measured in a harness
over the landmark benchmark's 0 dB mixes (maxima counted, threshold at the 0.1% point of 3,899 unregistered
windows): 64.0% -> 69.0% of 200 excerpts found."""
_UNCHANGED = len(REFINE_TEMPO) // 2 * len(REFINE_OFFSET_FRAMES) + len(REFINE_OFFSET_FRAMES) // 2
"""Row of the unrefined transform in the flattened grid."""
_DECOY_FRAMES = (-151, -97, -53, 53, 97, 151)
_DECOY_BINS = (-8, 8)


@dataclass(frozen=True)
class NullModel:
    """P(a stretch of unrelated music shows evidence >= e) ~= min(1, scale * 10 ** (-slope * e)).

    The binomial evidence assumes independent peaks; music is not, so
    unrelated stretches reach far more evidence than the binomial promises.
    Each way of counting (NULL_MODELS) has its exponential tail fitted by
    maximum likelihood above the 99th percentile of the stretches that
    verification examined for 10 s windows of calibration music
    (scripts/bench/calibrate_landmarks.py: music21 corpus pieces in neither
    the landmark benchmark's catalog nor its false-positive music; clean,
    +2 semitones, +10% tempo). The same script checks them on the
    false-positive music (docs/benchmarks.md, "Landmark null model"): how
    heavy the tail is depends on the music, so refit on the music a
    deployment screens.
    """

    scale: float
    slope: float

    def false_match_probability(self, stretch: "Stretch", trials: int) -> float:
        return min(1.0, max(1, trials) * self.scale * 10 ** (-self.slope * stretch.evidence))


NULL_MODELS = {"peaks": NullModel(scale=0.5819, slope=0.1026), "maxima": NullModel(scale=1.723, slope=0.1933)}
"""Per way of counting (Stretch.counted)."""


@dataclass(frozen=True)
class Stretch:
    """Frames first..last of the recording whose peaks were moved (the query's when `counted` is "peaks",
    the reference's when "maxima"): `landed` of the `peaks` peaks there land; `chance` is the decoys'
    landing rate."""

    first_frame: int
    last_frame: int
    peaks: int
    landed: int
    chance: float
    counted: str

    @property
    def evidence(self) -> float:
        """-log10 of the binomial probability of landing this often by chance."""
        tail = binom.sf(self.landed - 1, self.peaks, self.chance)
        return float(-math.log10(max(tail, 1e-300)))


@dataclass(frozen=True)
class Landings:
    """Where a moved peak counts as landing: a grid over (frame, half-bin) marking every position within the
    landing tolerance of a point (a reference's peaks, a query's maxima), so one lookup per peak decides.
    Built once per recording, shared by every transform and decoy."""

    grid: np.ndarray
    last_frame: int

    @classmethod
    def of(cls, points: LandmarkFingerprint) -> "Landings":
        frames = points.frames
        half_bins = np.round(points.bins * 2).astype(np.int64)
        last = int(frames[-1]) if len(frames) else -1
        grid = np.zeros((last + 1 + 2 * MATCH_FRAMES, 2 * BINS + 1 + 2 * MATCH_HALF_BINS), dtype=bool)
        for dt in range(2 * MATCH_FRAMES + 1):
            for db in range(2 * MATCH_HALF_BINS + 1):
                grid[frames + dt, half_bins + db] = True
        return cls(grid, last)

    def landed(self, frames: np.ndarray, bins: np.ndarray, transform: Transform, shift_frames: float = 0.0,
               shift_bins: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Which points land on a marked position once moved by the (displaced) transform, and which land
        inside the grid's frames at all."""
        return self.at(transform.tempo * frames + transform.offset + shift_frames,
                       bins - transform.pitch_bins + shift_bins)

    def at(self, frames: np.ndarray, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which (frame, bin) positions, any shape, are marked, and which lie inside the grid's frames."""
        frames, bins = np.broadcast_arrays(np.asarray(frames, np.float64), np.asarray(bins, np.float64))
        hit, inside = _at(self.grid, self.last_frame, np.ascontiguousarray(frames).ravel(),
                          np.ascontiguousarray(bins).ravel())
        return hit.reshape(frames.shape), inside.reshape(frames.shape)


@numba.njit(cache=True, nogil=True)
def _at(grid: np.ndarray, last_frame: int, frames: np.ndarray, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Landings.at, one loop: verification asks this hundreds of times a screening, for a few hundred points
    each, where numpy's per-call overhead was most of the cost."""
    hit = np.zeros(frames.size, dtype=np.bool_)
    inside = np.zeros(frames.size, dtype=np.bool_)
    for i in range(frames.size):
        frame = int(np.rint(frames[i]))
        if frame < 0 or frame > last_frame:
            continue
        inside[i] = True
        col = int(np.rint(bins[i] * 2)) + MATCH_HALF_BINS
        if 0 <= col < grid.shape[1]:
            hit[i] = grid[frame + MATCH_FRAMES, col]
    return hit, inside


def refined(reference: LandmarkFingerprint, query: Landings, transform: Transform) -> Transform:
    """The transform near `transform` under which most of the reference's peaks land on the query's maxima.

    A transform from a few key hits is coarse: its tempo comes from constellation durations or a short
    spread of hits, its offset from a median, and a tempo 1% off moves the end of a 10 s stretch 4 frames,
    outside the landing tolerance. Tempo and offset are searched on a small grid around it, the query frame
    in the middle of its hits held fixed (the decoys and the null model are measured after the same
    search). The pitch shift is left as the hits measured it: it is their median at 1/16 bin, finer than
    the landing tolerance could confirm."""
    frames, bins = _around(reference, transform.inverse())
    if len(frames) < MIN_PEAKS:
        return transform
    middle = 0.5 * (transform.first_frame + transform.last_frame)
    at_middle = transform.tempo * middle + transform.offset
    tempo, offset = (g.ravel() for g in np.meshgrid(transform.tempo * (1.0 + REFINE_TEMPO), REFINE_OFFSET_FRAMES,
                                                     indexing="ij"))
    offset = at_middle - tempo * middle + offset
    hit, _ = query.at((frames[None, :] - offset[:, None]) / tempo[:, None],
                      np.broadcast_to(bins + transform.pitch_bins, (len(tempo), len(bins))))
    counts = hit.sum(axis=1)
    best = int(np.argmax(counts))
    if counts[best] <= counts[_UNCHANGED]:
        return transform
    return Transform(transform.pitch_bins, float(tempo[best]), float(offset[best]), transform.first_frame,
                     transform.last_frame, transform.support)


def _around(points: LandmarkFingerprint, transform: Transform) -> tuple[np.ndarray, np.ndarray]:
    """The peaks within SEARCH_MARGIN_FRAMES of a transform's hits (its frame range is in their frames)."""
    frames = points.frames
    lo = np.searchsorted(frames, transform.first_frame - SEARCH_MARGIN_FRAMES)
    hi = np.searchsorted(frames, transform.last_frame + SEARCH_MARGIN_FRAMES, side="right")
    return frames[lo:hi], points.bins[lo:hi]


def stretches(moved: LandmarkFingerprint, onto: Landings, transform: Transform, counted: str) -> list[Stretch]:
    """The stretches of `moved` around `transform`'s hits whose peaks land on `onto` once moved by it
    (`transform` maps `moved`'s frames to `onto`'s, its frame range in `moved`'s frames)."""
    frames, bins = _around(moved, transform)
    landed, inside = onto.landed(frames, bins, transform)
    decoys = [onto.landed(frames, bins, transform, shift_frames=dt) for dt in _DECOY_FRAMES]
    decoys += [onto.landed(frames, bins, transform, shift_bins=db) for db in _DECOY_BINS]
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
            found.append(Stretch(int(frames[a]), int(frames[b - 1]), b - a, int(landed[a:b].sum()), chance, counted))
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
