"""The landmark catalog as the screening pipeline sees it: an index for candidates, fingerprints for verification."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fingerprints.landmarks.align import Transform, join, transforms
from fingerprints.landmarks.hashes import Constellations, query_constellations, reference_constellations
from fingerprints.landmarks.index import Candidate, LandmarkIndex
from fingerprints.landmarks.peaks import LandmarkFingerprint, LandmarkQuery
from fingerprints.landmarks.spectrum import BINS_PER_OCTAVE, FRAME_S
from fingerprints.landmarks.verify import NULL_MODELS, Landings, NullModel, Stretch, refined, stretches
from fingerprints.verify import strongest_per_stretch

MAX_FALSE_MATCH = 1e-4
REGION_MARGIN_FRAMES = 430
"""Verify 10 s of reference either side of the hits that nominated a work."""


@dataclass(frozen=True)
class LandmarkMatch:
    """A stretch of the query that reproduces a stretch of one reference, possibly re-pitched and re-timed."""

    work_number: int
    query_start: float
    query_end: float
    reference_start: float
    reference_end: float
    pitch_shift: float
    """Semitones the query sounds above the reference."""
    tempo_ratio: float
    """Query tempo over reference tempo (1.1: the query plays 10% faster)."""
    peaks: int
    """Peaks counted in the stretch: the query's or the reference's, as `counted` says."""
    landed: int
    """How many of them land under the transform."""
    chance: float
    """How often they land under decoy transforms."""
    counted: str
    """Which way the peaks were counted: "peaks", the query's landing on the reference's; "maxima", the
    reference's landing on the query's local maxima (verify.py)."""
    false_match_probability: float
    repeats: tuple[tuple[float, float], ...] = ()
    """Other places (reference start, end in seconds) that this stretch of the query reproduces as well
    (fingerprints.verify.strongest_per_stretch)."""

    @property
    def score(self) -> float:
        return 1.0 - self.false_match_probability


class LandmarkMatcher:
    """Candidates from the inverted index, verified peak by peak both ways (verify.py).

    Not thread-safe for writes; the caller serialises add/remove against search.
    """

    def __init__(self, index: LandmarkIndex, references: dict[int, LandmarkFingerprint],
                 nulls: Mapping[str, NullModel] = NULL_MODELS) -> None:
        self.index = index
        self._references = references
        self._nulls = nulls

    @classmethod
    def build(cls, references: Iterable[tuple[int, LandmarkFingerprint]]) -> "LandmarkMatcher":
        refs = dict(references)
        index = LandmarkIndex.empty()
        index.add_many([(n, reference_constellations(fp), _length(fp)) for n, fp in refs.items()])
        return cls(index, refs)

    @classmethod
    def load(cls, path: Path, references: Iterable[tuple[int, LandmarkFingerprint]]) -> "LandmarkMatcher":
        """A saved index with the stored fingerprints it was built from."""
        return cls(LandmarkIndex.load(path), dict(references))

    def save(self, path: Path) -> None:
        self.index.save(path)

    @property
    def works(self) -> int:
        return len(self._references)

    def memory_bytes(self) -> int:
        """Index plus the resident fingerprints verification reads."""
        return self.index.memory_bytes() + sum(fp.peaks.nbytes for fp in self._references.values())

    def add(self, work_number: int, fingerprint: LandmarkFingerprint) -> None:
        self._references[work_number] = fingerprint
        self.index.add_many([(work_number, reference_constellations(fingerprint), _length(fingerprint))])

    def remove(self, work_number: int) -> None:
        if self._references.pop(work_number, None) is not None:
            self.index.remove(work_number)

    def match(self, query: LandmarkQuery) -> list[LandmarkMatch]:
        """Every stretch of the query that matches a reference, strongest first, one per stretch and work."""
        found = [m for m in self.examine(query) if m.false_match_probability <= MAX_FALSE_MATCH]
        return strongest_per_stretch(found, lambda m: (m.false_match_probability, -m.landed))

    def examine(self, query: LandmarkQuery) -> list[LandmarkMatch]:
        """Every stretch verification looked at, whatever its score (what calibration fits)."""
        probes = query_constellations(query.peaks)
        if not len(probes):
            return []
        search = self.index.search(probes)
        ordered = probes.take(search.hit).sorted()  # a row with no posting cannot pair with a reference key
        examined: list[tuple[int, Transform, Stretch]] = []
        maxima = Landings.of(query.maxima)
        for work, regions in _regions(search.candidates).items():
            reference = self._references.get(work)
            if reference is None:
                continue
            parts = [reference_constellations(reference, lo, hi) for lo, hi in regions]
            hits = join(ordered, Constellations.concatenate(parts))
            peaks = Landings.of(reference)
            for found in transforms(hits):
                transform = refined(reference, maxima, found)
                both = (stretches(query.peaks, peaks, transform, "peaks")
                        + stretches(reference, maxima, transform.inverse(), "maxima"))
                examined.extend((work, transform, s) for s in both)
        trials = max(1, len(examined))
        return [_match(work, t, s, self._nulls[s.counted].false_match_probability(s, trials))
                for work, t, s in examined]


def _length(fingerprint: LandmarkFingerprint) -> int:
    return int(fingerprint.frames[-1]) + 1 if len(fingerprint.peaks) else 0


def _regions(candidates: list[Candidate]) -> dict[int, list[tuple[int, int]]]:
    """Per work, the candidates' reference frames widened by REGION_MARGIN_FRAMES and merged."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for c in candidates:
        spans.setdefault(c.work_number, []).append(
            (max(0, c.first_frame - REGION_MARGIN_FRAMES), c.last_frame + REGION_MARGIN_FRAMES))
    merged: dict[int, list[tuple[int, int]]] = {}
    for work, items in spans.items():
        items.sort()
        out = [items[0]]
        for lo, hi in items[1:]:
            if lo <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], hi))
            else:
                out.append((lo, hi))
        merged[work] = out
    return merged


def _match(work: int, transform: Transform, stretch: Stretch, p: float) -> LandmarkMatch:
    if stretch.counted == "peaks":  # frames of the query
        query_frames = (stretch.first_frame, stretch.last_frame + 1)
        reference_frames = tuple(transform.tempo * f + transform.offset for f in query_frames)
    else:  # frames of the reference
        reference_frames = (stretch.first_frame, stretch.last_frame + 1)
        query_frames = tuple((f - transform.offset) / transform.tempo for f in reference_frames)
    return LandmarkMatch(
        work_number=work,
        query_start=max(0.0, query_frames[0]) * FRAME_S,
        query_end=max(0.0, query_frames[1]) * FRAME_S,
        reference_start=max(0.0, reference_frames[0]) * FRAME_S,
        reference_end=max(0.0, reference_frames[1]) * FRAME_S,
        pitch_shift=transform.pitch_bins * 12 / BINS_PER_OCTAVE,
        tempo_ratio=transform.tempo,
        peaks=stretch.peaks,
        landed=stretch.landed,
        chance=stretch.chance,
        counted=stretch.counted,
        false_match_probability=p,
    )
