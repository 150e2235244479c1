"""Verify stage: align a candidate exactly, keep only the stretch that matches, score it.

A candidate alignment is accepted only where the per-frame bit-error rate
(BER) between query and reference stays low for long enough. The score is
1 minus the estimated probability that unrelated music reaches a BER this
low over a stretch this long at any of the alignments examined (see
NullModel); a match is reported when that probability is below
MAX_FALSE_MATCH.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

import numpy as np

from fingerprints.chromaprint import CODE_SPAN_S, FRAME_HOP_S
from fingerprints.index import Candidate

MATCH_FRAME_BER = 0.25
"""A frame belongs to a matching stretch when its smoothed BER is below this.

Everyday processing leaves 0.02-0.09; unrelated music sits near 0.49."""
SMOOTHING_FRAMES = 9
MAX_GAP_FRAMES = 16
"""Stretches closer than ~2 s are one match (a dropout or a fill does not split it)."""
MIN_SPAN_FRAMES = 16
MAX_FALSE_MATCH = 1e-4


@dataclass(frozen=True)
class NullModel:
    """BER of unrelated music over a stretch holding n distinct codes (distinct_codes) ~
    Normal(mean, sd_24 * (n / 24) ** -decay).

    The spread shrinks far slower than 1/sqrt(n) because chroma of music in
    the same key and tempo is correlated over seconds.

    These parameters are deliberately wider than a fit to random alignments.
    scripts/bench/calibrate_chromaprint.py fits mean 0.4913, sd_24 0.0472,
    decay 0.269 to the 0.1% quantiles of unrelated pairs at random
    alignments, against which these are ~30-60x conservative at that
    quantile. But verify() never sees random alignments: it sees the
    alignments the index proposed because some windows already agree, and
    the threshold sits ~4.4 sd into a tail that the calibration shows to be
    heavier than Normal. Measured on the foundation benchmark's unregistered
    music (docs/benchmarks.md, "How close unrelated music comes": 16,649 10 s
    windows of 589 min), the fitted model would let 1.4% of the windows
    through as matches (p <= 1e-4), while with these parameters none does,
    0.02% reach 1e-3 and 0.5% reach 1e-2, no more than a calibrated score
    would give. So the fitted model is not adopted.
    """

    mean: float = 0.492
    sd_24: float = 0.0817
    decay: float = 0.198

    def false_match_probability(self, ber: float, frames: int, trials: int) -> float:
        sd = self.sd_24 * (frames / 24) ** -self.decay
        z = (ber - self.mean) / sd
        tail = 0.5 * math.erfc(-z / math.sqrt(2))
        return min(1.0, tail * max(1, trials))


NULL_MODEL = NullModel()


@dataclass(frozen=True)
class AudioMatch:
    """A stretch of the query that reproduces a stretch of one reference."""

    work_number: int
    query_start: float
    query_end: float
    reference_start: float
    reference_end: float
    bit_error_rate: float
    false_match_probability: float
    repeats: tuple[tuple[float, float], ...] = ()
    """Other places (reference start, end in seconds) whose audio this stretch of the query reproduces as
    well: a work that repeats itself (a loop, a chorus, a reprise) holds the copied audio more than once."""

    @property
    def score(self) -> float:
        return 1.0 - self.false_match_probability


def frame_errors(query: np.ndarray, reference: np.ndarray, offset: int) -> tuple[int, np.ndarray]:
    """Per-frame bit-error fraction of query[i] against reference[i + offset], over their overlap."""
    lo = max(0, -offset)
    hi = min(len(query), len(reference) - offset)
    if hi <= lo:
        return lo, np.zeros(0)
    diff = np.bitwise_xor(query[lo:hi], reference[lo + offset:hi + offset])
    return lo, np.bitwise_count(diff).astype(np.float64) / 32.0


def informative(codes: np.ndarray) -> np.ndarray:
    """Frames whose code differs from the previous one; a held code says nothing about identity."""
    mask = np.ones(len(codes), dtype=bool)
    mask[1:] = codes[1:] != codes[:-1]
    return mask


def distinct_codes(codes: np.ndarray) -> int:
    """How many different codes a stretch of informative frames holds: the observations its agreement rests on.

    A part that cycles through a few codes (an ostinato, a vamp, an oom-pah bass) repeats one observation
    many times, and two such parts in the same key can agree frame after frame without sharing any audio;
    counting every frame of the cycle as new evidence made them look like a copy (landmark benchmark: Verdi's
    'La donna e mobile' 2 semitones up against Ryan's 'Lady Templeton's Clog', 9 distinct codes in 59 frames,
    BER 0.04). In most music the two counts agree (median ratio 1.0 over 10 s stretches of the benchmark's
    recordings, 1st percentile 0.93-0.99), so the null model's calibration on frame counts still holds."""
    return int(np.unique(codes).size)


def verify(
    query: np.ndarray,
    references: dict[int, np.ndarray],
    candidates: list[Candidate],
    null: NullModel = NULL_MODEL,
    max_false_match: float = MAX_FALSE_MATCH,
) -> list[AudioMatch]:
    """Every matching stretch behind `candidates`, strongest first, one per stretch of the query (with the
    other places in the same work that the stretch reproduces as its repeats).

    `max_false_match` above MAX_FALSE_MATCH is for measurement only (how close unrelated music comes).
    """
    trials = max(1, len(candidates))
    query_informative = informative(query)
    found: list[AudioMatch] = []
    for candidate in candidates:
        reference = references.get(candidate.work_number)
        if reference is None:
            continue
        lo, errors = frame_errors(query, reference, candidate.offset)
        if len(errors) < MIN_SPAN_FRAMES:
            continue  # too short an overlap to ever make a match (and shorter than the smoothing kernel)
        mask = query_informative[lo:lo + len(errors)] & informative(reference)[lo + candidate.offset:lo + candidate.offset + len(errors)]
        for start, end in _stretches(errors, mask):
            used = mask[start:end]
            frames = distinct_codes(query[lo + start:lo + end][used])
            if frames < MIN_SPAN_FRAMES:
                continue
            ber = float(errors[start:end][used].mean())
            p = null.false_match_probability(ber, frames, trials)
            if p > max_false_match:
                continue
            q0, q1 = lo + start, lo + end
            found.append(AudioMatch(
                work_number=candidate.work_number,
                query_start=q0 * FRAME_HOP_S,
                query_end=(q1 - 1) * FRAME_HOP_S + CODE_SPAN_S,
                reference_start=(q0 + candidate.offset) * FRAME_HOP_S,
                reference_end=(q1 - 1 + candidate.offset) * FRAME_HOP_S + CODE_SPAN_S,
                bit_error_rate=ber,
                false_match_probability=p,
            ))
    return strongest_per_stretch(
        found, lambda m: (m.false_match_probability, m.bit_error_rate, -(m.query_end - m.query_start)))


def _stretches(errors: np.ndarray, mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs of low smoothed BER over informative frames, joined across short gaps."""
    weights = mask.astype(np.float64)
    kernel = np.ones(SMOOTHING_FRAMES)
    # A centred moving sum, len(errors) values long: np.convolve(mode="same") returns
    # max(len(errors), SMOOTHING_FRAMES) values, so an overlap shorter than the kernel broke the shapes.
    centre = slice((SMOOTHING_FRAMES - 1) // 2, (SMOOTHING_FRAMES - 1) // 2 + len(errors))
    summed = np.convolve(errors * weights, kernel, mode="full")[centre]
    counted = np.convolve(weights, kernel, mode="full")[centre]
    smoothed = np.divide(summed, counted, out=np.ones_like(summed), where=counted > 0)
    low = (smoothed < MATCH_FRAME_BER) & mask
    runs: list[tuple[int, int]] = []
    idx = np.flatnonzero(low)
    if not len(idx):
        return runs
    start = prev = int(idx[0])
    for i in idx[1:].tolist():
        if i - prev > MAX_GAP_FRAMES:
            runs.append((start, prev + 1))
            start = i
        prev = i
    runs.append((start, prev + 1))
    return runs


class QuerySpan(Protocol):
    """What any fingerprint's match says about where it lies in the query and the reference."""

    work_number: int
    query_start: float
    query_end: float
    reference_start: float
    reference_end: float
    repeats: tuple[tuple[float, float], ...]


M = TypeVar("M", bound=QuerySpan)


def strongest_per_stretch(matches: Iterable[M], strength: Callable[[M], tuple]) -> list[M]:
    """One match per query stretch and work: the strongest, with the reference spans of the others that
    cover the same stretch elsewhere in the work as its repeats.

    A weaker match whose query stretch is mostly covered by a stronger match of the same work is dropped;
    where its reference span lies elsewhere (it is not the same place at a neighbouring offset), the work
    holds that audio twice, and a lawyer needs every place. `strength` orders matches strongest first
    (smallest key first)."""
    kept: list[M] = []
    for match in sorted(matches, key=strength):
        length = match.query_end - match.query_start
        for i, k in enumerate(kept):
            if (k.work_number == match.work_number
                    and min(k.query_end, match.query_end) - max(k.query_start, match.query_start) > 0.5 * length):
                place = (match.reference_start, match.reference_end)
                if not any(_same_place(place, other) for other in ((k.reference_start, k.reference_end), *k.repeats)):
                    kept[i] = replace(k, repeats=(*k.repeats, place))
                break
        else:
            kept.append(match)
    return kept


def _same_place(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return min(a[1], b[1]) - max(a[0], b[0]) > 0.5 * min(a[1] - a[0], b[1] - b[0])
