"""The melody catalog as screening sees it: windows in a FAISS index for candidates, notes for verification.

match(melody):
 1. reduce the query's ornaments;
 2. cut a window at every note (represent.windows: tempo- and transposition-invariant) and look up the
    nearest reference windows;
 3. vote: each query window supports a work once; the best-supported works are re-ranked by how many
    windows agree on one offset (a true quotation lines up, chance look-alikes do not); the agreeing
    windows give the tempo ratio (span against span) and the transposition (mean against mean);
 4. align the stretch of the query behind each shortlisted hypothesis with the whole reference
    (align.align), keep the best alignment per work and quoted stretch;
 5. score it against the background null (score.NullModel) for the catalog as searched.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from melody.align import DEFAULT_PARAMS, AlignParams, Alignment, align
from melody.index import MelodyIndex, split_ids
from melody.notes import Melody
from melody.represent import WINDOW_NOTES, PatternWeights, collapse, consolidate, ioi, pattern_keys, unit, windows
from melody.score import NullModel

NEIGHBOURS = 32
SHORTLIST = 48
"""Hypotheses verified per query (a work may appear under two tempo ratios)."""
OFFSET_BIN = 4
"""Notes: windows whose implied position of the query in the reference agrees within this vote together."""
MAX_FALSE_MATCH = 0.01
MIN_QUERY_NOTES = 6
VERIFY_MARGIN_NOTES = 16
"""Query notes either side of the agreeing windows that verification also aligns."""
REFERENCE_ANCHOR_METRIC = 0.0
"""Reference windows start on notes at least this metrically strong (0: every note; measured better than
beats only, which halves the index but loses short quotations)."""
REFERENCE_SPANS = (WINDOW_NOTES - 1, WINDOW_NOTES, WINDOW_NOTES + 1)
"""Reference windows are cut over these many notes; query windows over WINDOW_NOTES."""
_ANCHOR_BITS = 18
_ANCHOR_MASK = (1 << _ANCHOR_BITS) - 1
_SIGMA2 = 4.0


@dataclass
class Reference:
    """What verification needs of one work, derived from its stored Melody."""

    melody: Melody
    reduced: Melody
    starts: np.ndarray
    unit: float
    ioi_units: np.ndarray
    anchor_onset: np.ndarray
    """Beats, per collapsed note (windows start at collapsed notes)."""
    anchor_span: np.ndarray
    window_mean: np.ndarray
    weights: np.ndarray
    keys: np.ndarray
    median_ioi: float


@dataclass(frozen=True)
class NotePair:
    """One aligned group: query notes [query_lo, query_hi) and reference notes [reference_lo, reference_hi)
    (indices into the melodies as given), with what the alignment made of them."""

    query_lo: int
    query_hi: int
    reference_lo: int
    reference_hi: int
    kind: str
    query_start: float
    query_pitch: float
    reference_bar: int
    reference_beat: float
    reference_pitch: float


@dataclass(frozen=True)
class MelodyMatch:
    """A stretch of the query that quotes a stretch of one reference tune."""

    work_number: int
    query_start: float
    query_end: float
    reference_bars: tuple[int, int]
    reference_beats: tuple[float, float]
    transposition: float
    """Semitones from the reference up to the query."""
    tempo_ratio: float
    """How much faster the query plays the passage than the reference's notated tempo (reference seconds over
    query seconds for the matched stretch; 120 quarter notes a minute where the reference states no tempo)."""
    alignment_score: float
    false_match_probability: float
    pairs: tuple[NotePair, ...] = field(repr=False)
    matched_notes: int = 0

    @property
    def score(self) -> float:
        return 1.0 - self.false_match_probability


_KINDS = {1: "match", 2: "inserted", 3: "deleted", 4: "consolidated", 5: "fragmented"}


class MelodyMatcher:
    """Candidates from the FAISS window index, verified by local alignment against the reference notes.

    Not thread-safe for writes; the caller serialises add/remove against match.
    """

    def __init__(self, index: MelodyIndex, references: dict[int, Reference], patterns: PatternWeights,
                 null: NullModel | None = None, params: AlignParams = DEFAULT_PARAMS) -> None:
        self.index = index
        self._refs = references
        self.patterns = patterns
        self.null = null or NullModel()
        self.params = params
        self.catalog_notes = sum(len(r.reduced) for r in references.values())

    @classmethod
    def build(cls, references: Iterable[tuple[int, Melody]], *, null: NullModel | None = None,
              params: AlignParams = DEFAULT_PARAMS, weighted: bool = True) -> "MelodyMatcher":
        prepared = {n: _prepare(m) for n, m in references}
        patterns = PatternWeights()
        if weighted:
            for r in prepared.values():
                patterns.add(r.keys)
            sample = [r.keys for r in list(prepared.values())[:: max(1, len(prepared) // 2000)]]
            patterns.freeze(sample)
        for r in prepared.values():
            r.weights = patterns.note_weights(r.reduced.pitch) if weighted else np.ones(len(r.reduced))
        entries = []
        for n, r in prepared.items():
            vecs, anchors = _reference_windows(r)
            entries.append((n, vecs, anchors))
        index = MelodyIndex.build(entries)
        return cls(index, prepared, patterns, null, params)

    @property
    def works(self) -> int:
        return len(self._refs)

    def reference(self, work_number: int) -> Reference | None:
        return self._refs.get(work_number)

    def add(self, work_number: int, melody: Melody) -> None:
        if work_number in self._refs:
            self.remove(work_number)
        r = _prepare(melody)
        self.patterns.add(r.keys)
        r.weights = self.patterns.note_weights(r.reduced.pitch) if self.patterns.works else np.ones(len(r.reduced))
        self._refs[work_number] = r
        self.catalog_notes += len(r.reduced)
        vecs, anchors = _reference_windows(r)
        self.index.add(work_number, vecs, anchors)

    def remove(self, work_number: int) -> None:
        r = self._refs.pop(work_number, None)
        if r is not None:
            self.index.remove(work_number)
            self.patterns.add(r.keys, sign=-1)
            self.catalog_notes -= len(r.reduced)

    # -- matching -----------------------------------------------------------------------------------------

    def candidates(self, query: "Query", *, shortlist: int = SHORTLIST) -> list["Hypothesis"]:
        """Best-supported (work, tempo ratio, offset, transposition) hypotheses, strongest first."""
        if not len(query.vectors):
            return []
        dist, ids = self.index.search(query.vectors, NEIGHBOURS)
        valid = ids >= 0
        rows = np.broadcast_to(np.arange(len(ids))[:, None], ids.shape)[valid]
        d = dist[valid]
        works, packed = split_ids(ids[valid])
        variant, notes = packed >> _ANCHOR_BITS, packed & _ANCHOR_MASK
        weight = np.exp(-d / (_SIGMA2 * 16))
        # Hough vote on (work, note offset): a quotation's windows agree on where the query sits in the
        # reference, up to a few inserted or dropped notes; two staggered grids of OFFSET_BIN-note bins.
        shift = notes - query.anchor_index[rows]
        hyps: list[Hypothesis] = []
        best: dict[int, tuple[float, np.ndarray]] = {}
        for stagger in (0, OFFSET_BIN // 2):
            key = works * 4096 + (shift + stagger + 2048) // OFFSET_BIN
            order = np.lexsort((-weight, rows, key))
            k_o, r_o = key[order], rows[order]
            first = np.ones(len(order), dtype=bool)
            first[1:] = (k_o[1:] != k_o[:-1]) | (r_o[1:] != r_o[:-1])
            sel = order[first]
            ukeys, inv, counts = np.unique(key[sel], return_inverse=True, return_counts=True)
            votes = np.bincount(inv, weights=weight[sel])
            group_order = np.argsort(inv, kind="stable")
            bounds = np.concatenate([[0], np.cumsum(counts)])
            for t in np.argsort(-votes)[: 4 * shortlist].tolist():
                work = int(ukeys[t] // 4096)
                if work not in best or votes[t] > best[work][0]:
                    best[work] = (float(votes[t]), sel[group_order[bounds[t]:bounds[t + 1]]])
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])[:shortlist]
        for work, (support, m) in ranked:
            ref = self._refs.get(work)
            if ref is None:
                continue
            qrow, rnote, rvar = rows[m], notes[m], variant[m]
            ratio = ref.anchor_span[rvar, rnote] / query.anchor_span[qrow]
            trans = query.window_mean[qrow] - ref.window_mean[rvar, rnote]
            hyps.append(Hypothesis(work, float(np.median(ratio)), float(np.median(shift[m])),
                                   float(np.median(trans)), support,
                                   float(query.anchor_onset[qrow].min()),
                                   float((query.anchor_onset[qrow] + query.anchor_span[qrow]).max())))
        hyps.sort(key=lambda h: -h.support)
        return hyps[:shortlist]

    def verify(self, query: "Query", hyp: "Hypothesis") -> tuple[Alignment, float, np.ndarray] | None:
        """Align the stretch of the query behind `hyp` with the whole reference; (alignment, transposition,
        query note indices aligned)."""
        ref = self._refs[hyp.work]
        margin = VERIFY_MARGIN_NOTES * query.median_ioi
        on = query.reduced.onset
        sel = np.flatnonzero((on >= hyp.query_lo - margin) & (on <= hyp.query_hi + margin))
        if len(sel) < 2:
            return None
        qd = query.ioi[sel] * hyp.scale / ref.unit
        best = None
        tried = set()
        trans = round(hyp.transposition) if query.integral else hyp.transposition
        for _ in range(3):
            if trans in tried:
                break
            tried.add(trans)
            al = align(query.reduced.pitch[sel] - trans, qd, ref.reduced.pitch, ref.ioi_units, ref.weights,
                       self.params)
            if best is None or al.score > best[0].score:
                best = (al, trans)
            subs = al.pairs[al.pairs[:, 4] == 1] if len(al.pairs) else al.pairs
            if len(subs) < 4:
                break
            diff = query.reduced.pitch[sel][subs[:, 0]] - ref.reduced.pitch[subs[:, 2]]
            med = float(np.median(diff))
            trans = round(med) if query.integral else med
        al, trans = best
        return al, trans, sel

    def match(self, melody: Melody, *, max_false_match: float = MAX_FALSE_MATCH,
              shortlist: int = SHORTLIST) -> list[MelodyMatch]:
        """Every quotation of a catalog work in `melody` whose false-match probability is at most
        `max_false_match`, strongest first, one per work and stretch of the query."""
        query = prepare_query(melody)
        if query is None:
            return []
        found: list[MelodyMatch] = []
        for hyp in self.candidates(query, shortlist=shortlist):
            res = self.verify(query, hyp)
            if res is None:
                continue
            al, trans, sel = res
            if not len(al.pairs):
                continue
            p = self.null.false_match_probability(al.score, len(query.reduced), self.catalog_notes)
            if p > max_false_match:
                continue
            described = self._describe(query, hyp, al, trans, sel, p)
            if described is not None:
                found.append(described)
        return _strongest_per_stretch(found)

    def _describe(self, query: "Query", hyp: "Hypothesis", al: Alignment, trans: float, sel: np.ndarray,
                  p: float) -> MelodyMatch | None:
        ref = self._refs[hyp.work]
        qm, rm = query.melody, ref.melody
        q_starts, r_starts = query.starts, ref.starts
        q_bounds = np.concatenate([q_starts, [len(qm)]])
        r_bounds = np.concatenate([r_starts, [len(rm)]])
        pairs = []
        matched = 0
        for qlo, qhi, rlo, rhi, op in al.pairs.tolist():
            if op == 2 or op == 3:
                continue
            oq_lo, oq_hi = int(q_bounds[sel[qlo]]), int(q_bounds[sel[qhi - 1] + 1])
            or_lo, or_hi = int(r_bounds[rlo]), int(r_bounds[rhi])
            matched += 1
            pairs.append(NotePair(oq_lo, oq_hi, or_lo, or_hi, _KINDS[op], float(qm.start[oq_lo]),
                                  float(query.reduced.pitch[sel[qlo]]), int(rm.bar[or_lo]), float(rm.onset[or_lo]),
                                  float(ref.reduced.pitch[rlo])))
        if not pairs:
            return None
        q_lo = min(pp.query_lo for pp in pairs)
        q_hi = max(pp.query_hi for pp in pairs)
        r_lo = min(pp.reference_lo for pp in pairs)
        r_hi = max(pp.reference_hi for pp in pairs)
        q_sec = float(qm.end[q_hi - 1] - qm.start[q_lo])
        ref_sec = float(rm.end[r_hi - 1] - rm.start[r_lo])
        return MelodyMatch(
            work_number=hyp.work,
            query_start=float(qm.start[q_lo]),
            query_end=float(qm.end[q_hi - 1]),
            reference_bars=(int(rm.bar[r_lo]), int(rm.bar[r_hi - 1])),
            reference_beats=(float(rm.onset[r_lo]), float(rm.onset[r_hi - 1] + rm.duration[r_hi - 1])),
            transposition=float(trans),
            tempo_ratio=ref_sec / q_sec if q_sec > 0 else float("nan"),
            alignment_score=al.score,
            false_match_probability=p,
            pairs=tuple(pairs),
            matched_notes=matched,
        )


@dataclass(frozen=True)
class Hypothesis:
    work: int
    scale: float
    offset: float
    transposition: float
    support: float
    query_lo: float
    query_hi: float


@dataclass
class Query:
    melody: Melody
    reduced: Melody
    starts: np.ndarray
    ioi: np.ndarray
    median_ioi: float
    vectors: np.ndarray
    anchor_onset: np.ndarray
    anchor_span: np.ndarray
    anchor_index: np.ndarray
    window_mean: np.ndarray
    integral: bool


def prepare_query(melody: Melody) -> Query | None:
    """Reduce ornaments, cut a window at every (collapsed) note."""
    if len(melody) < MIN_QUERY_NOTES:
        return None
    reduced, starts, _ = _reduce(melody)
    if len(reduced) < MIN_QUERY_NOTES:
        return None
    d = ioi(reduced)
    end = float(reduced.onset[-1] + d[-1])
    cp, con, _ = collapse(reduced.pitch, reduced.onset, end)
    vecs, anchors, span, mean = windows(cp, con, np.arange(len(cp)))
    integral = bool(np.all(np.abs(reduced.pitch - np.round(reduced.pitch)) < 1e-6))
    return Query(melody, reduced, starts, d, float(np.median(d)), vecs, con[anchors], span, anchors, mean, integral)


def _reduce(melody: Melody) -> tuple[Melody, np.ndarray, float]:
    reduced, starts = consolidate(melody)
    return reduced, starts, unit(reduced)


def _prepare(melody: Melody) -> Reference:
    reduced, starts, u = _reduce(melody)
    d = ioi(reduced)
    n = len(reduced)
    return Reference(melody, reduced, starts, u, d / u, np.zeros(0), np.zeros(0), np.zeros(0), np.ones(n),
                     pattern_keys(reduced.pitch), float(np.median(d)) if n else 1.0)


def _reference_windows(r: Reference) -> tuple[np.ndarray, np.ndarray]:
    """Windows at every collapsed note, over each of REFERENCE_SPANS notes, so that a query window that
    gained or lost a note (an ornament or passing note left after reduction, a merged note) still has a
    reference window covering the same music. Ids address (span variant, collapsed note)."""
    red = r.reduced
    d = ioi(red)
    end = float(red.onset[-1] + d[-1]) if len(red) else 0.0
    cp, con, cidx = collapse(red.pitch, red.onset, end)
    strong = np.flatnonzero(red.metric[cidx] >= REFERENCE_ANCHOR_METRIC)
    r.anchor_onset = con[:-1].copy()
    r.anchor_span = np.full((len(REFERENCE_SPANS), len(cp)), np.nan)
    r.window_mean = np.full((len(REFERENCE_SPANS), len(cp)), np.nan)
    all_vecs, all_ids = [], []
    for v, notes in enumerate(REFERENCE_SPANS):
        vecs, anchors, span, mean = windows(cp, con, strong, notes=notes)
        r.anchor_span[v, anchors] = span
        r.window_mean[v, anchors] = mean
        all_vecs.append(vecs)
        all_ids.append((v << _ANCHOR_BITS) | anchors)
    return np.concatenate(all_vecs), np.concatenate(all_ids)


def _weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    o = np.argsort(x)
    c = np.cumsum(w[o])
    return float(x[o][np.searchsorted(c, 0.5 * c[-1])])


def _strongest_per_stretch(matches: list[MelodyMatch]) -> list[MelodyMatch]:
    """Drop a match whose query stretch is mostly covered by a stronger match of the same work."""
    ordered = sorted(matches, key=lambda m: (m.false_match_probability, -m.alignment_score))
    kept: list[MelodyMatch] = []
    for match in ordered:
        length = match.query_end - match.query_start
        if any(k.work_number == match.work_number
               and min(k.query_end, match.query_end) - max(k.query_start, match.query_start) > 0.5 * length
               for k in kept):
            continue
        kept.append(match)
    return kept
