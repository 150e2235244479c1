"""Representation stage: ornament-reduced notes, a tempo unit, pitch windows for the index, pattern weights.

Transposition invariance comes from subtracting each window's mean pitch;
tempo invariance from sampling each window over its own span (a window is
a fixed number of notes, repeated notes collapsed), so a window looks the
same at any tempo and under tempo drift. Ornaments
are handled twice: short notes are consolidated into the note they
decorate (`reduce`), and windows sample the duration-weighted pitch, so
what remains of a grace note or a turn barely moves a window.
"""

from __future__ import annotations

import math

import numpy as np

from fingerprints.melody.notes import Melody

WINDOW_NOTES = 6
"""Notes per window (repeated notes collapsed): distinctive enough to shortlist, short enough that a 4-bar
quotation holds several."""
CELLS = 16
"""Samples per window, evenly over the window's own span (so tempo never needs to be known)."""
DIM = CELLS
SHORT_RATIO = 0.3
"""A note shorter than this many units is treated as an ornament of its neighbour."""
PATTERN_LENGTH = 3
"""Intervals per pattern for the rarity weights (4-note shapes)."""


def ioi(m: Melody) -> np.ndarray:
    """Inter-onset intervals in beats; the last note keeps its own duration."""
    if not len(m):
        return np.zeros(0)
    out = np.empty(len(m))
    out[:-1] = np.diff(m.onset)
    out[-1] = m.duration[-1]
    return np.maximum(out, 1e-3)


def unit(m: Melody) -> float:
    """The melody's commonest inter-onset interval in beats, counted by the time it covers (histogram mode on
    a log scale, refined): the yardstick for 'short' (ornaments) and for duration costs in alignment.
    Weighting by time keeps a heavily ornamented melody's many short notes from becoming the yardstick."""
    d = ioi(m)
    d = d[(d > 0) & np.isfinite(d)]
    if not len(d):
        return 1.0
    logs = np.log2(d)
    bins = np.arange(logs.min() - 0.2, logs.max() + 0.25, 1 / 24)
    hist, edges = np.histogram(logs, bins=bins, weights=d)
    hist = np.convolve(hist, [0.25, 0.5, 1.0, 0.5, 0.25], mode="same")
    centre = 0.5 * (edges[np.argmax(hist)] + edges[np.argmax(hist) + 1])
    near = np.abs(logs - centre) < 0.2
    return float(2 ** np.median(logs[near])) if near.any() else float(2 ** centre)


LOCAL_NOTES = 6
"""Notes either side that set the local yardstick for 'short'."""


def local_unit(d: np.ndarray, half: int = LOCAL_NOTES) -> np.ndarray:
    """Per note, the time-weighted median inter-onset interval of its neighbourhood: what a plain note lasts
    here. Local, so a slow introduction or a run of long notes does not make every note look short, and
    time-weighted, so a cluster of ornament notes does not make itself look normal."""
    n = len(d)
    pad = np.concatenate([np.full(half, np.nan), d, np.full(half, np.nan)])
    win = np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1)
    order = np.argsort(np.nan_to_num(win, nan=np.inf), axis=1)
    vals = np.take_along_axis(win, order, axis=1)
    w = np.nan_to_num(vals, nan=0.0)
    c = np.cumsum(w, axis=1)
    k = np.argmax(c >= 0.5 * c[:, -1:], axis=1)
    return vals[np.arange(n), k]


def reduce(m: Melody, *, beat_unit: float | None = None, ratio: float = SHORT_RATIO) -> Melody:
    """`consolidate` without the note map."""
    return consolidate(m, beat_unit=beat_unit, ratio=ratio)[0]


def consolidate(m: Melody, *, beat_unit: float | None = None, ratio: float = SHORT_RATIO) -> tuple[Melody, np.ndarray]:
    """Consolidate ornaments: runs of notes shorter than `ratio` of the local plain note become one note.

    A run too short to be a note itself (a cut, a grace note) joins the note it leads into; a run long
    enough (a roll, a turn, a trill over one beat) becomes one note at its duration-weighted commonest
    pitch. Onset, bar and metric weight are the first note's. Also returns the first original note of each
    reduced note (reduced note k covers original notes starts[k]:starts[k + 1]).
    """
    n = len(m)
    if n < 2:
        return m, np.arange(n)
    d = ioi(m)
    local = local_unit(d) if beat_unit is None else np.full(n, beat_unit)
    short = d < ratio * local
    if not short.any():
        return m, np.arange(n)
    groups: list[tuple[int, int]] = []
    i = 0
    while i < n:
        if not short[i]:
            groups.append((i, i + 1))
            i += 1
            continue
        j = i
        while j < n and short[j]:
            j += 1
        if d[i:j].sum() >= ratio * local[i] or j == n:
            groups.append((i, j))
            i = j
        else:
            groups.append((i, j + 1))
            i = j + 1
    if len(groups) > 1 and d[groups[-1][0]:groups[-1][1]].sum() < ratio * local[groups[-1][0]]:
        lo, hi = groups.pop()
        plo, _ = groups.pop()
        groups.append((plo, hi))
    keep = np.array([g[0] for g in groups])
    last = np.array([g[1] - 1 for g in groups])
    pitch = m.pitch[keep].astype(np.float64)
    conf = m.confidence[keep].astype(np.float32)
    for k in np.flatnonzero(last > keep).tolist():  # only real groups need the weighted pitch
        lo, hi = int(keep[k]), int(last[k]) + 1
        pitch[k] = main_pitch(m.pitch[lo:hi], d[lo:hi])
        conf[k] = float(np.dot(m.confidence[lo:hi], d[lo:hi]) / d[lo:hi].sum())
    duration = m.onset[last] + m.duration[last] - m.onset[keep]
    end = m.end[last]
    return Melody(pitch, m.onset[keep], duration, m.start[keep], end, m.bar[keep], conf, m.metric[keep],
                  m.source, dict(m.meta)), keep


def main_pitch(pitches: np.ndarray, weights: np.ndarray) -> float:
    """The duration-weighted commonest pitch. A tie goes to the lower pitch when the group alternates between
    two (a trill: its auxiliary is the note above, whichever it starts on), else to the group's last pitch (a
    figure leads into its main note)."""
    if len(pitches) == 1:
        return float(pitches[0])
    rounded = np.round(pitches)
    trill = len(rounded) >= 3 and len(np.unique(rounded)) == 2 and bool(np.all(rounded[1:] != rounded[:-1]))
    preferred = rounded.min() if trill else rounded[-1]
    best, best_w = pitches[-1], -1.0
    for p in np.unique(rounded):
        w = float(weights[rounded == p].sum())
        if w > best_w + 1e-9 or (abs(w - best_w) <= 1e-9 and p == preferred):
            best, best_w = float(np.average(pitches[rounded == p], weights=weights[rounded == p])), w
    return best


def collapse(pitch: np.ndarray, onset: np.ndarray, end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge runs of repeated pitches (a note split into repeated notes, or merged, is the same line):
    pitch, onset and index of the first note of each run, plus the melody's end as a final onset."""
    rounded = np.round(pitch * 2) / 2
    first = np.ones(len(pitch), dtype=bool)
    first[1:] = rounded[1:] != rounded[:-1]
    idx = np.flatnonzero(first)
    return pitch[idx], np.append(onset[idx], end), idx


def windows(pitch: np.ndarray, onset: np.ndarray, anchors: np.ndarray, *, notes: int | None = None,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Duration-weighted pitch over the `notes` (collapsed) notes from each anchor, sampled at CELLS points of
    the window's own span, mean removed: transposition- and tempo-invariant by construction. (Measured: adding
    a rhythm-blind half, every note counted equal, did not raise shortlist recall under rhythmic jitter.)

    `pitch` has one entry per note, `onset` one more (the end). Returns vectors (float32, n x DIM), the
    anchors whose window fits, each window's span (beats) and mean pitch."""
    notes = notes or WINDOW_NOTES
    n = len(pitch)
    anchors = anchors[anchors + notes <= n]
    if not len(anchors):
        return np.zeros((0, DIM), np.float32), anchors, np.zeros(0), np.zeros(0)
    timed, span, mean = _cells(pitch, onset, anchors, notes)
    return timed.astype(np.float32), anchors, span, mean


def _cells(pitch: np.ndarray, onset: np.ndarray, anchors: np.ndarray, notes: int):
    dur = np.diff(onset)
    area = np.concatenate([[0.0], np.cumsum(pitch * dur)])
    t0 = onset[anchors]
    span = onset[anchors + notes] - t0
    bounds = t0[:, None] + span[:, None] * np.linspace(0.0, 1.0, CELLS + 1)[None, :]
    cum = np.interp(bounds, onset, area)
    cells = np.diff(cum, axis=1) / (span[:, None] / CELLS)
    mean = cells.mean(axis=1)
    return cells - mean[:, None], span, mean


def pattern_keys(pitch: np.ndarray, length: int = PATTERN_LENGTH) -> np.ndarray:
    """One integer per note: its next `length` intervals (rounded, clipped to an octave); -1 near the end."""
    n = len(pitch)
    keys = np.full(n, -1, dtype=np.int64)
    if n <= length:
        return keys
    steps = np.clip(np.round(np.diff(pitch)), -12, 12).astype(np.int64) + 12
    code = np.zeros(n - length, dtype=np.int64)
    for k in range(length):
        code = code * 25 + steps[k:k + n - length]
    keys[: n - length] = code
    return keys


class PatternWeights:
    """Rarity of interval patterns across the catalog (IDF): common formulas (scale runs, repeated notes,
    arpeggios) count for less evidence than distinctive turns of phrase."""

    def __init__(self) -> None:
        self.df: dict[int, int] = {}
        self.works = 0
        self.mean_idf = 1.0

    def add(self, keys: np.ndarray, sign: int = 1) -> None:
        for k in np.unique(keys[keys >= 0]).tolist():
            self.df[k] = self.df.get(k, 0) + sign
        self.works += sign

    def freeze(self, sample: list[np.ndarray]) -> None:
        """Fix the normaliser so that the average note weighs 1 (stays fixed as works come and go)."""
        idf = np.concatenate([self.idf(k) for k in sample]) if sample else np.ones(1)
        self.mean_idf = float(np.mean(idf)) or 1.0

    def idf(self, keys: np.ndarray) -> np.ndarray:
        df = np.array([self.df.get(k, 0) for k in keys.tolist()], dtype=np.float64)
        out = np.log((self.works + 1.0) / (df + 1.0))
        out[keys < 0] = math.log(2.0)
        return out

    def note_weights(self, pitch: np.ndarray, floor: float = 0.3, cap: float = 2.5, power: float = 0.5) -> np.ndarray:
        """Weight of each reference note: mean rarity (IDF) of the patterns it belongs to, average 1, softened
        by `power` (measured: the square root separates quotations from chance better than the raw IDF or none)."""
        keys = pattern_keys(pitch)
        idf = self.idf(keys) / self.mean_idf
        n = len(pitch)
        acc = np.zeros(n)
        cnt = np.zeros(n)
        for k in range(PATTERN_LENGTH + 1):
            acc[k:] += idf[: n - k] if k else idf
            cnt[k:] += 1
        return np.clip((acc / cnt) ** power, floor, cap)
