"""Hash stage: peaks in, constellation hash keys with their geometry out.

A constellation is an anchor peak and three target peaks chosen among the
first few eligible peaks after it in time order. Its key quantises
quantities that pitch shift and tempo change leave alone:

- the three target-minus-anchor frequency differences, in log bins
  (a pitch shift adds the same number of bins to every peak);
- two time ratios (t_target - t_anchor) / (t_last - t_anchor), in
  RATIO_LEVELS steps (a tempo change scales every time difference alike);

plus one coarse field that trades range for selectivity: the anchor's
band (BAND_BINS wide). A query probes every band a pitch shift of up to
PITCH_RANGE_BINS could have moved it from, so within that range matching
is still invariant, and unrelated music collides ~2.5x less often per
lookup than without it (docs/landmarks.md).

Why four points and not Panako's three: triplet keys of real music
collide at ~2^-13 per comparison (music is full of octaves, fifths and
chords), which at 5,000 hours would put ~10^9 random postings behind a
10 s query; four points reach ~2^-24 and ~2.5 million, at the cost of
needing one more peak to survive (docs/landmarks.md, "hash").

Selection by rank ("the first REFERENCE_CHOICES eligible peaks") rather
than by a time window is what makes the choice itself tempo-invariant. A
query picks from QUERY_CHOICES peaks so that a peak added by noise or
another instrument does not push a reference target out of reach.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from fingerprints.landmarks.peaks import LandmarkFingerprint
from fingerprints.landmarks.spectrum import BINS

TARGETS = 3
REFERENCE_CHOICES = 4
QUERY_CHOICES = 6
LOOKAHEAD = 24
"""Peaks after the anchor examined for eligibility (~1.2 s at 20 peaks a second)."""
MIN_SPAN_FRAMES = 3
MAX_SPAN_FRAMES = 80
"""A constellation spans 3 to 80 frames (70 ms to 1.9 s)."""
ZONE_BINS = 48
"""Targets lie within 16 semitones of the anchor."""
RATIO_LEVELS = 8
BAND_BINS = 18
PITCH_RANGE_BINS = 10
"""Queries probe anchor bands for pitch shifts up to 10 bins (3.3 semitones) either way."""
PROBE_MARGIN = 0.2
"""A frequency difference within 0.3 of a rounding boundary, or a ratio within 0.2 of a level
boundary, is also looked up on the other side: peak positions jitter by ~0.25 bin and ~1 frame."""

_DIFF_RADIX = 2 * ZONE_BINS + 3
_BANDS = BINS // BAND_BINS + 1


@dataclass(frozen=True)
class Constellations:
    """One row per key: the key and the anchor's frame and bin, and the frames to the last point."""

    keys: np.ndarray
    frames: np.ndarray
    bins: np.ndarray
    spans: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def concatenate(cls, parts: list["Constellations"]) -> "Constellations":
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in ("keys", "frames", "bins", "spans")))

    def sorted(self) -> "Constellations":
        return self.take(key_order(self.keys))

    def take(self, rows: np.ndarray) -> "Constellations":
        """The given rows (indices or a boolean mask), in that order."""
        return Constellations(self.keys[rows], self.frames[rows], self.bins[rows], self.spans[rows])


def key_order(keys: np.ndarray) -> np.ndarray:
    """np.argsort(keys, kind="stable") for 32-bit keys, ~8x faster: each key packed above its position
    into one distinct 64-bit value (so fewer than 2**32 keys), sorted without a stability requirement
    (numpy's fastest sort)."""
    packed = (keys.astype(np.uint64) << np.uint64(32)) | np.arange(len(keys), dtype=np.uint64)
    return (np.sort(packed) & np.uint64(0xFFFFFFFF)).astype(np.int64)


def reference_constellations(fingerprint: LandmarkFingerprint, first_frame: int = 0,
                             end_frame: int | None = None) -> Constellations:
    """The keys a reference is indexed under; with a frame range, only anchors inside it.

    Restricting the range gives exactly the rows the whole reference would
    give there, so verification can rebuild a region's keys cheaply.
    """
    frames, bins = fingerprint.frames, fingerprint.bins
    lo = int(np.searchsorted(frames, first_frame))
    hi = len(frames) if end_frame is None else int(np.searchsorted(frames, end_frame + MAX_SPAN_FRAMES + 1))
    anchors_end = hi if end_frame is None else int(np.searchsorted(frames, end_frame))
    rows = _constellations(frames[lo:hi], bins[lo:hi], REFERENCE_CHOICES, anchors_end - lo)
    return _keys(frames[lo:hi], bins[lo:hi], rows, probe=False)


def query_constellations(fingerprint: LandmarkFingerprint) -> Constellations:
    """Every key a query looks up: its own constellations, each under all its probe variants."""
    rows = _constellations(fingerprint.frames, fingerprint.bins, QUERY_CHOICES, len(fingerprint.peaks))
    return _keys(fingerprint.frames, fingerprint.bins, rows, probe=True)


def _constellations(frames: np.ndarray, bins: np.ndarray, choices: int, anchors: int) -> np.ndarray:
    """Rows of peak indices (anchor, target, target, target) for anchors 0..anchors-1."""
    n = len(frames)
    if n < TARGETS + 1 or anchors <= 0:
        return np.zeros((0, TARGETS + 1), dtype=np.int64)
    anchor = np.arange(anchors)
    ahead = anchor[:, None] + np.arange(1, LOOKAHEAD + 1)[None, :]
    inside = ahead < n
    ahead = np.minimum(ahead, n - 1)
    eligible = (inside & (frames[ahead] - frames[anchor, None] <= MAX_SPAN_FRAMES)
                & (np.abs(bins[ahead] - bins[anchor, None]) <= ZONE_BINS))
    rank = np.cumsum(eligible, axis=1) - 1
    eligible &= rank < choices
    chosen = np.full((anchors, choices), -1, dtype=np.int64)
    r, c = np.nonzero(eligible)
    chosen[r, rank[r, c]] = ahead[r, c]
    picks = _combinations(choices)
    rows = np.concatenate([np.repeat(anchor, len(picks))[:, None], chosen[:, picks].reshape(-1, TARGETS)], axis=1)
    rows = rows[(rows >= 0).all(axis=1)]
    return rows[frames[rows[:, -1]] - frames[rows[:, 0]] >= MIN_SPAN_FRAMES]


@lru_cache(maxsize=4)
def _combinations(choices: int) -> np.ndarray:
    return np.array(list(itertools.combinations(range(choices), TARGETS)), dtype=np.int64)


def _keys(frames: np.ndarray, bins: np.ndarray, rows: np.ndarray, *, probe: bool) -> Constellations:
    anchor = rows[:, 0]
    span = (frames[rows[:, -1]] - frames[anchor]).astype(np.float64)
    fields: list[tuple[int, list[tuple[np.ndarray, np.ndarray]]]] = []
    for k in range(1, TARGETS + 1):
        diff = bins[rows[:, k]] - bins[anchor]
        fields.append((_DIFF_RADIX, _rounded(diff, ZONE_BINS + 1, probe)))
    for k in range(1, TARGETS):
        ratio = (frames[rows[:, k]] - frames[anchor]) / span * RATIO_LEVELS
        fields.append((RATIO_LEVELS, _levels(ratio, probe)))
    band = bins[anchor] / BAND_BINS
    reach = PITCH_RANGE_BINS / BAND_BINS if probe else 0.0
    fields.append((_BANDS, _classes(band, band - reach, band + reach, _BANDS)))
    composite = np.zeros(len(rows), dtype=np.uint64)
    source = np.arange(len(rows))
    for radix, variants in fields:
        parts_c, parts_s = [], []
        for values, mask in variants:
            chosen = mask[source]
            parts_c.append(composite[chosen] * np.uint64(radix) + values[source[chosen]].astype(np.uint64))
            parts_s.append(source[chosen])
        composite, source = np.concatenate(parts_c), np.concatenate(parts_s)
    keys = ((composite * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)).astype(np.uint32)
    return Constellations(keys, frames[anchor][source], bins[anchor][source], span[source].astype(np.int64))


def _rounded(x: np.ndarray, offset: int, probe: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    nearest = np.round(x)
    variants = [(nearest + offset, np.ones(len(x), dtype=bool))]
    if probe:
        frac = x - nearest
        variants.append((nearest + np.where(frac >= 0, 1, -1) + offset, np.abs(frac) > 0.5 - PROBE_MARGIN))
    return variants


def _levels(x: np.ndarray, probe: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    level = np.minimum(np.floor(x), RATIO_LEVELS - 1)
    variants = [(level, np.ones(len(x), dtype=bool))]
    if probe:
        frac = x - level
        variants.append((level - 1, (frac < PROBE_MARGIN) & (level > 0)))
        variants.append((level + 1, (frac > 1 - PROBE_MARGIN) & (level < RATIO_LEVELS - 1)))
    return variants


def _classes(x: np.ndarray, low: np.ndarray | float, high: np.ndarray | float,
             count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The class of x, and every other class in [low, high] (which is just x's own for references)."""
    own = np.clip(np.floor(x), 0, count - 1)
    first = np.clip(np.floor(low), 0, count - 1)
    last = np.clip(np.floor(high), 0, count - 1)
    variants = [(own, np.ones(len(x), dtype=bool))]
    for step in range(int(np.max(last - first, initial=0)) + 1):
        value = first + step
        variants.append((value, (value <= last) & (value != own)))
    return variants
